"""What a browser in a room watches is brought to what it should watch one offer at a
time: never a second offer while it holds one, nothing asked when nothing changed."""

from __future__ import annotations

from lawline.media.janus_client import VideoStream, video_streams
from lawline.media.video_legs import Subscription


def streams(*feeds: str, inactive: tuple[str, ...] = ()) -> list[VideoStream]:
    return [VideoStream(str(i), f, f not in inactive) for i, f in enumerate(feeds + inactive)]


def test_a_change_waits_for_the_answer_to_the_offer_out() -> None:
    sub = Subscription(wanted=frozenset({"mediator"}))
    assert sub.next_update() == (["mediator"], [])
    sub.offered(streams("mediator"))
    sub.wanted = frozenset({"mediator", "p2"})  # someone came in meanwhile
    assert sub.next_update() is None  # the browser holds an offer: wait for its answer
    sub.answered()
    assert sub.next_update() == (["p2"], [])


def test_a_feed_janus_dropped_is_asked_for_again_only_if_still_wanted() -> None:
    sub = Subscription(wanted=frozenset({"mediator", "p2"}))
    sub.offered(streams("mediator", "p2"))
    sub.answered()
    assert sub.next_update() is None
    # Janus offered on its own: p2's camera went away (its stream inactive).
    sub.offered(streams("mediator", inactive=("p2",)))
    sub.answered()
    sub.wanted = frozenset({"mediator"})
    assert sub.next_update() is None
    sub.wanted = frozenset()
    assert sub.next_update() == ([], ["mediator"])


def test_the_layout_names_video_feeds_only() -> None:
    data = {
        "streams": [
            {"type": "video", "mid": "0", "feed_id": "mediator", "active": True},
            {"type": "audio", "mid": "1", "feed_id": "p2"},
            {"type": "video", "mid": "2", "feed_id": "p2", "active": False},
            {"type": "data", "mid": "3"},
            "not a stream",
        ]
    }
    assert video_streams(data) == [
        VideoStream("0", "mediator", True),
        VideoStream("2", "p2", False),
    ]
