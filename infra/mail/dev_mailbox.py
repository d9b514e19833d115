"""The development mailbox: with no SMTP server configured (development mode only), email
is appended to a JSON-lines file that `clinic mailbox` and GET /dev/mailbox show.

Each line: {to, patient_id, subject, body (the text/plain part), attachments: [{filename,
content_type}], at}. Attachments are listed, not stored: the file stays readable.
"""

from __future__ import annotations

import fcntl
import json
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path
from typing import Any
from uuid import UUID

from projections.notifications.emails import SIGN_IN_SUBJECT, find_sign_in_code


class DevMailbox:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.path.parent.mkdir(parents=True, exist_ok=True)

    def send(self, message: EmailMessage, patient_id: UUID) -> None:
        body = message.get_body(preferencelist=("plain",))
        record = {
            "to": str(message["To"]), "patient_id": str(patient_id),
            "subject": str(message["Subject"]),
            "body": body.get_content() if isinstance(body, EmailMessage) else "",
            "attachments": [{"filename": part.get_filename(),
                             "content_type": part.get_content_type()}
                            for part in message.iter_attachments()],
            "at": datetime.now(UTC).isoformat(),
        }
        with self.path.open("a", encoding="utf-8") as box:
            fcntl.flock(box, fcntl.LOCK_EX)
            box.write(json.dumps(record) + "\n")

    def messages(self, limit: int = 20) -> list[dict[str, Any]]:
        """The newest `limit` messages, newest first."""
        return self._all()[:max(limit, 0)]

    def latest_code(self, to: str) -> str | None:
        """The newest sign-in code sent to an address (development sign-in, tests)."""
        for record in self._all():
            if (record["to"].casefold() == to.casefold()
                    and record["subject"] == SIGN_IN_SUBJECT):
                code = find_sign_in_code(record["body"])
                if code:
                    return code
        return None

    def forget(self, patient_id: UUID) -> int:
        """Drop every message to a patient, whatever address it went to (erasure)."""
        if not self.path.exists():
            return 0
        with self.path.open("r+", encoding="utf-8") as box:
            fcntl.flock(box, fcntl.LOCK_EX)
            lines = [line for line in box.readlines() if line.strip()]
            kept = [line for line in lines
                    if json.loads(line).get("patient_id") != str(patient_id)]
            box.seek(0)
            box.writelines(kept)
            box.truncate()
        return len(lines) - len(kept)

    def _all(self) -> list[dict[str, Any]]:
        if not self.path.exists():
            return []
        with self.path.open(encoding="utf-8") as box:
            fcntl.flock(box, fcntl.LOCK_SH)
            lines = box.read().splitlines()
        return [json.loads(line) for line in reversed(lines) if line.strip()]
