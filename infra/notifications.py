"""Delivering sign-in codes: SMTP when configured, a development mailbox otherwise.

The development mailbox is a JSON-lines file under CLINIC_DATA_DIR, readable with
`clinic mailbox` and GET /dev/mailbox, and exists only in development mode.
"""

from __future__ import annotations

import fcntl
import json
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from uuid import UUID

SUBJECT = "Your clinic sign-in code"


def code_message(code: str) -> str:
    return (f"Your sign-in code is {code}.\n\nIt works once, for 10 minutes. If you did not "
            "ask for it, ignore this email.\n")


class DevMailbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def send_code(self, patient_id: UUID, email: str, code: str) -> None:
        line = json.dumps({"to": email, "patient_id": str(patient_id), "subject": SUBJECT,
                           "code": code,
                           "body": code_message(code), "at": datetime.now(UTC).isoformat()})
        with self.path.open("a", encoding="utf-8") as box:
            fcntl.flock(box, fcntl.LOCK_EX)
            box.write(line + "\n")

    def forget(self, patient_id: UUID) -> int:
        """Drop every message to a patient, whatever address it went to (erasure)."""
        if not self.path.exists():
            return 0
        with self.path.open("r+", encoding="utf-8") as box:
            fcntl.flock(box, fcntl.LOCK_EX)
            lines = box.readlines()
            kept = [line for line in lines if line.strip()
                    and json.loads(line).get("patient_id") != str(patient_id)]
            box.seek(0)
            box.writelines(kept)
            box.truncate()
        return len(lines) - len(kept)

    def messages(self, limit: int = 20) -> list[dict[str, str]]:
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-limit:]
        return [json.loads(line) for line in reversed(lines) if line.strip()]


class SmtpCodeSender:
    def __init__(self, host: str, port: int, sender: str, *, starttls: bool,
                 username: str | None = None, password: str | None = None) -> None:
        self.host, self.port, self.sender = host, port, sender
        self.starttls, self.username, self.password = starttls, username, password

    def send_code(self, patient_id: UUID, email: str, code: str) -> None:
        message = EmailMessage()
        message["From"], message["To"], message["Subject"] = self.sender, email, SUBJECT
        message.set_content(code_message(code))
        with smtplib.SMTP(self.host, self.port, timeout=10) as smtp:
            if self.starttls:
                smtp.starttls(context=ssl.create_default_context())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
