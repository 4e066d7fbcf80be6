"""What publishing a post needs before it talks to the PDS: pure functions, no requests.

- A post's record key is a TID derived from the idempotency key alone, so every attempt to
  publish one post names the same record (https://atproto.com/specs/record-key: the key of
  an ``app.bsky.feed.post`` is a TID; https://atproto.com/specs/tid).
- What Bluesky would refuse is refused here first, in words a person understands: at most
  300 graphemes and 3,000 UTF-8 bytes of text (``app.bsky.feed.post``'s ``maxGraphemes`` and
  ``maxLength``), at most four pictures (``app.bsky.embed.images``), each within the rules'
  size and types.
- A refusal of the PDS is told with the PDS's own reason.
"""

from __future__ import annotations

from connectors.atproto import XrpcError, derived_tid
from connectors.base import Draft, PermanentError, PostRules, Upload, count_text
from connectors.bluesky._model import strong_ref

MAX_TEXT_BYTES = 3000
"""The text's ``maxLength`` in ``app.bsky.feed.post`` (UTF-8 bytes), beside its 300
graphemes: 300 emoji joined from several code points each are more."""
MAX_KEY_LENGTH = 200


def record_key(idempotency_key: str) -> str:
    """The key of the record one publication writes: a TID derived from the idempotency key
    alone (:func:`~connectors.atproto.derived_tid`), the same on every attempt."""
    key = idempotency_key.strip() if isinstance(idempotency_key, str) else ""
    if not key or len(key) > MAX_KEY_LENGTH:
        raise PermanentError(
            f"Publishing needs a key of up to {MAX_KEY_LENGTH} characters to happen once."
        )
    return derived_tid(key)


def compose(draft: Draft) -> str:
    """The text of the post: the draft's, and its link when the text does not hold it."""
    text = draft.text.strip()
    if draft.link and draft.link not in text:
        text = f"{text}\n\n{draft.link}" if text else draft.link
    return text


def check_draft(draft: Draft, text: str, rules: PostRules) -> None:
    """Refuse what Bluesky would refuse of a post of ``text``, the draft's pictures, and the
    posts it answers (which must be Bluesky posts, named by URI and CID)."""
    if draft.media:
        raise PermanentError("Attach pictures to a Bluesky post as uploads, not by address.")
    if not text.strip() and not draft.uploads:
        raise PermanentError("There is nothing to publish: write something or add a picture.")
    length = count_text(text, "graphemes")
    if length > rules.max_length:
        raise PermanentError(
            f"This post is {length} characters long as Bluesky counts them, and Bluesky "
            f"allows {rules.max_length}: shorten it by {length - rules.max_length}."
        )
    if len(text.encode("utf-8", "surrogatepass")) > MAX_TEXT_BYTES:
        raise PermanentError(
            "This post has too many emoji or other characters that take much room: Bluesky "
            f"stores at most {MAX_TEXT_BYTES:,} bytes of text. Shorten it."
        )
    if len(draft.uploads) > rules.max_media:
        raise PermanentError(f"Bluesky takes at most {rules.max_media} pictures in a post.")
    for upload in draft.uploads:
        check_picture(upload, rules)
    if draft.reply_to is not None:
        strong_ref(draft.reply_to.root)
        strong_ref(draft.reply_to.parent)


def check_picture(upload: Upload, rules: PostRules) -> None:
    """Refuse a picture of a type or a size Bluesky does not take."""
    if upload.mime_type not in rules.media_types:
        kinds = ", ".join(kind.removeprefix("image/").upper() for kind in rules.media_types)
        raise PermanentError(f"Bluesky takes pictures in {kinds}, not this kind of file.")
    if len(upload.data) > rules.max_media_bytes:
        raise PermanentError(
            f"This picture is {len(upload.data):,} bytes, and Bluesky takes pictures of at "
            f"most {rules.max_media_bytes:,} bytes: make it smaller."
        )


def refusal(error: XrpcError, what: str) -> PermanentError:
    """A PDS's refusal of ``what``, told to a person with the PDS's own reason."""
    if error.status == 413 or error.error == "PayloadTooLarge":
        return PermanentError(f"Bluesky refused {what}: it is too large.")
    reason = error.message.rstrip(".")
    return PermanentError(f"Bluesky refused {what}: {reason}.")
