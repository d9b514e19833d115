from domain.smoke import Smoke


def test_events_rebuild_the_same_state() -> None:
    smoke = Smoke("hello")
    smoke.ping()
    smoke.ping()
    events = smoke.collect_events()
    assert [type(e).__name__ for e in events] == ["Created", "Pinged", "Pinged"]
    rebuilt = None
    for e in events:
        rebuilt = e.mutate(rebuilt)
    assert rebuilt is not None and rebuilt.pings == 2 and rebuilt.note == "hello"
