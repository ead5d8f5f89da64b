"""Data quality, bias and leakage checks on a dataset version (``robotops validate``)."""

from robotops.validate.report import CheckResult, ValidationReport
from robotops.validate.rules import CHECK_IDS, DEFAULT_RULES, Rule, Severity
from robotops.validate.validate import Validation, validate

__all__ = [
    "CHECK_IDS",
    "DEFAULT_RULES",
    "CheckResult",
    "Rule",
    "Severity",
    "Validation",
    "ValidationReport",
    "validate",
]
