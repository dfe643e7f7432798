"""What a doctor check reports: one finding, with its fix and, for the safe ones, the repair that
--fix runs. The checks (operations/doctor*.py) import it from here, not from doctor.py, which
imports the checks."""

from dataclasses import dataclass, field


@dataclass
class Finding:
    check: str
    severity: str  # info | warning | error
    message: str
    fix: str
    repair: object = field(default=None, repr=False)  # callable doing the safe fix, or None
    repair_says: str = ""  # what the repair does, asked before doing it

    def as_dict(self) -> dict:
        return {"check": self.check, "severity": self.severity, "message": self.message, "fix": self.fix,
                "fixable": self.repair is not None}
