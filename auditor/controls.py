"""The control catalogue: compliance frameworks, and the controls rules may cite.

Rules declare control ids (``CIS-AWS-1.12``, ``SOC2-CC6.2``, ...); the
prefix says the framework. Titles are short paraphrases of each control so
an auditor recognises it. The rule registry refuses a control missing from
this table, so every id a report shows has a name. It sits below rules/ and
report/ so both can read it.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Framework:
    key: str
    name: str
    prefix: str
    asff_type: str  # the ASFF "Industry and Regulatory Standards" classifier


FRAMEWORKS = {
    f.key: f
    for f in (
        Framework("cis", "CIS Amazon Web Services Foundations Benchmark", "CIS-AWS-", "CIS AWS Foundations Benchmark"),
        Framework("soc2", "SOC 2 Trust Services Criteria (2017)", "SOC2-", "SOC 2"),
        Framework("iso27001", "ISO/IEC 27001:2022 Annex A", "ISO27001-", "ISO 27001 Controls"),
        Framework("nist", "NIST SP 800-53 Rev. 5", "NIST-800-53-", "NIST 800-53 Controls (USA)"),
        Framework("pci", "PCI DSS v4.0", "PCI-DSS-", "PCI-DSS"),
    )
}

CONTROL_TITLES = {
    "CIS-AWS-1.4": "No access key exists for the root user",
    "CIS-AWS-1.5": "MFA is enabled for the root user",
    "CIS-AWS-1.6": "Hardware MFA is enabled for the root user",
    "CIS-AWS-1.7": "The root user is not used for administrative and daily tasks",
    "CIS-AWS-1.10": "MFA is enabled for every IAM user with a console password",
    "CIS-AWS-1.12": "Credentials unused for 45 days or more are disabled",
    "CIS-AWS-1.13": "Each IAM user has at most one active access key",
    "CIS-AWS-1.14": "Access keys are rotated every 90 days or less",
    "CIS-AWS-1.15": "IAM users receive permissions only through groups",
    "CIS-AWS-1.16": "No IAM policy granting full '*:*' administrative privileges is attached",
    "SOC2-CC6.1": "Logical access security over protected information assets",
    "SOC2-CC6.2": "Users are registered and authorised before access, and removed when no longer authorised",
    "SOC2-CC6.3": "Access is granted, changed and removed by role, with least privilege and segregation of duties",
    "SOC2-CC7.2": "System components are monitored for anomalies indicating security events",
    "ISO27001-A.5.15": "Access control",
    "ISO27001-A.5.16": "Identity management",
    "ISO27001-A.5.17": "Authentication information",
    "ISO27001-A.5.18": "Access rights",
    "ISO27001-A.8.2": "Privileged access rights",
    "ISO27001-A.8.5": "Secure authentication",
    "NIST-800-53-AC-2": "Account management",
    "NIST-800-53-AC-2(2)": "Account management: automated temporary and emergency account management",
    "NIST-800-53-AC-2(3)": "Account management: disable accounts",
    "NIST-800-53-AC-6": "Least privilege",
    "NIST-800-53-AC-6(5)": "Least privilege: privileged accounts",
    "NIST-800-53-AC-6(7)": "Least privilege: review of user privileges",
    "NIST-800-53-AC-6(9)": "Least privilege: log use of privileged functions",
    "PCI-DSS-7.2.4": "User accounts and access privileges are reviewed at least every six months",
    "PCI-DSS-8.2.2": "Shared, group or generic accounts and credentials are used only when necessary",
    "PCI-DSS-8.2.6": "Inactive user accounts are removed or disabled within 90 days",
    "PCI-DSS-8.3.9": "Single-factor passwords are changed at least every 90 days",
    "PCI-DSS-8.4.1": "MFA for all non-console administrative access into the CDE",
    "PCI-DSS-8.4.2": "MFA for all access into the CDE",
}


def framework(key: str) -> Framework:
    try:
        return FRAMEWORKS[key]
    except KeyError:
        raise ValueError(f"unknown framework {key!r} (known: {', '.join(FRAMEWORKS)})") from None


def framework_of(control_id: str) -> Framework | None:
    return next((f for f in FRAMEWORKS.values() if control_id.startswith(f.prefix)), None)


def _natural(control_id: str) -> list:
    """Sort key that puts CIS-AWS-1.4 before CIS-AWS-1.10 and AC-2 before AC-2(3)."""
    parts: list = []
    number = ""
    for char in control_id:
        if char.isdigit():
            number += char
            continue
        if number:
            parts.append((0, int(number)))
            number = ""
        parts.append((1, char))
    if number:
        parts.append((0, int(number)))
    return parts


def sort_controls(control_ids: set[str] | list[str]) -> list[str]:
    return sorted(control_ids, key=_natural)
