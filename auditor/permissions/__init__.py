"""Effective permissions of IAM principals and permission sets, from their policy documents."""

from auditor.permissions.catalog import Catalog, catalog
from auditor.permissions.effective import Effective, Grant, PermissionModel, customer_policy_arn
from auditor.permissions.policy import PolicyError, Statement, compile_document

__all__ = [
    "Catalog",
    "Effective",
    "Grant",
    "PermissionModel",
    "PolicyError",
    "Statement",
    "catalog",
    "compile_document",
    "customer_policy_arn",
]
