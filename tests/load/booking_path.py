"""Which of the project's files one booking runs through: POST /bookings (with a hold and an
Idempotency-Key), then the projection and GET /bookings/{id}. A map check, not a benchmark:

    .venv/bin/python -m tests.load.booking_path

Real PostgreSQL and Redis (tests/load/common.py), the whole app in-process; every Python
function call in the project's own modules (tests excluded) is recorded while the requests
run. docs/architecture.md quotes the result.
"""

from __future__ import annotations

import sys
import threading
import uuid
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parents[2]


class Recorder:
    def __init__(self) -> None:
        self.on, self.files = False, set[str]()

    def __call__(self, frame: FrameType, event: str, arg: Any) -> None:
        if self.on and event == "call":
            path = Path(frame.f_code.co_filename)
            if path.is_relative_to(ROOT) and not path.is_relative_to(ROOT / "tests") \
                    and ".venv" not in path.parts:
                self.files.add(str(path.relative_to(ROOT)))

    def take(self) -> set[str]:
        files, self.files = self.files, set()
        return files


def main() -> None:
    recorder = Recorder()
    sys.setprofile(recorder)
    threading.setprofile(recorder)  # the test client's loop thread and the handler threads
    from fastapi.testclient import TestClient

    from domain.access import Role
    from domain.consent import POLICIES
    from infra.http.app import create_app
    from infra.postgres.read_models import READ_MODELS, read_model
    from infra.settings import Settings
    from projections.runner import CatchUpRunner
    from tests.load.common import servers

    with servers() as srv:
        settings = Settings(database_url=srv.database_url, redis_url=srv.redis.url,
                            data_dir=srv.data_dir, rate_limit_scale=1000,
                            max_upcoming_visits=500)
        app = create_app(settings=settings)
        with TestClient(app) as client:
            container = app.state.container

            def project() -> None:
                for name in READ_MODELS:
                    model = read_model(name, srv.database_url, "public", phi=container.phi)
                    CatchUpRunner(container.app, model).catch_up()
                    model.datastore.close()

            admin = {"Authorization": f"Bearer {container.tokens.issue(Role.admin, 'ops')}"}
            clinic = client.post("/clinics", headers=admin, json={
                "name": "Harbor", "time_zone": "America/New_York", "modalities": ["in_person"],
                "address": {"line": "1 Main", "city": "Boston", "state": "MA",
                            "postal_code": "02110"}}).json()["id"]
            service = client.post("/services", headers=admin, json={
                "name": "Checkup", "duration_minutes": 30, "modality": "in_person"}).json()["id"]
            provider = client.post("/providers", headers=admin, json={
                "display_name": "Dr", "clinic_ids": [clinic],
                "service_ids": [service]}).json()["id"]
            weekdays = ["monday", "tuesday", "wednesday", "thursday", "friday"]
            client.put(f"/providers/{provider}/availability/{clinic}", headers=admin,
                       json={"weekly": {d: [["09:00", "17:00"]] for d in weekdays}})
            project()
            patient = client.post("/patients", json={
                "given_name": "Ana", "family_name": "Lima", "birth_date": "1990-01-02",
                "email": "ana@example.org"}).json()["patient_id"]
            code = container.codes.issue(uuid.UUID(patient))
            token = client.post("/auth/verify", json={"email": "ana@example.org",
                                                      "code": code}).json()["access_token"]
            bearer = {"Authorization": f"Bearer {token}"}
            client.post(f"/patients/{patient}/consents", headers=bearer, json={
                "purpose": "treatment", "policy_version": POLICIES["treatment"].version})
            slots = client.get("/slots", params={"service_id": service}).json()["slots"]
            hold = client.post("/holds", headers=bearer, json={"slot_id": slots[3]["id"]}).json()
            client.get(f"/bookings/{uuid.uuid4()}", headers=bearer)  # the read path's imports
            recorder.take()
            recorder.on = True
            booked = client.post("/bookings", headers={**bearer, "Idempotency-Key": "k-1"},
                                 json={"slot_id": slots[3]["id"], "hold_id": hold["hold_id"],
                                       "hold_secret": hold["hold_secret"], "reason": "cough"})
            write = recorder.take()
            project()
            read = client.get(f"/bookings/{booked.json()['id']}", headers=bearer)
            recorder.on = False
            later = recorder.take() - write
            assert booked.status_code == 201 and read.status_code == 200, read.text
    for title, files in (("POST /bookings", write), ("then projection and GET", later)):
        print(f"{title}: {len(files)} files")
        for name in sorted(files):
            print(f"  {name}")
    print(f"in all: {len(write | later)} files")


if __name__ == "__main__":
    main()
