"""Deployment: the Lambda entry point, S3-backed storage for it, and the generated IAM policies."""
