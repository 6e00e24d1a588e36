"""Stage 4a: word shingles and MinHash signatures.

Takes an ``Article`` (or a batch of texts); returns its shingle hashes and a ``Sketch`` (a
MinHash signature, LSH band keys and the hashes of its long sentences). Tokens are hashed
once to integers and combined into shingle and sentence hashes with numpy, so no shingle
string is ever built; ``sketch_texts`` does a whole file's articles in one pass. The
signature uses datasketch's ``affine32`` permutations (``MinHash(num_perm, seed).permutations``)
and equals ``datasketch.MinHash`` fed the same shingle hashes, so signatures can be stored as
``LeanMinHash`` bytes. Never compares articles.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from dedupe_releases.config import SketchConfig
from dedupe_releases.records import Article, Sketch

U32 = npt.NDArray[np.uint32]
U64 = npt.NDArray[np.uint64]
_A = TypeVar("_A", U32, U64)

_TOKEN = re.compile(r"\w+")
# Where a sentence ends: a newline, or final punctuation, closing quotes/brackets and a space
# (the plain form: r"\n+|[.!?][\"')\]]*\s+"). Written to start with one character class,
# which the regex engine scans for 4x faster; it splits the tokens into the same sentences
# (tested). The separators hold no word characters, so no token is lost or split.
_SENTENCE = re.compile(r"[\n.!?](?:(?<=\n)|[\"')\]]*\s)")
_SENTENCE_KEPT = re.compile(f"({_SENTENCE.pattern})")  # the same, keeping the breaks
#: Shortest sentence, in words, whose hash is kept (a shared passage, not a stock phrase).
MIN_SENTENCE_WORDS = 8
# An odd 64-bit multiplier (from splitmix64) to combine token hashes position by position.
_COMBINE = np.uint64(0x9E3779B97F4A7C15)
_MASK64 = (1 << 64) - 1
#: MurmurHash3's 64-bit finaliser's multipliers (``_fmix64``; ``_fmix64_int`` in Python).
_FMIX64 = (0xFF51AFD7ED558CCD, 0xC4CEB9FE1A85EC53)
_EMPTY = np.uint32(0xFFFFFFFF)  # datasketch's initial (empty) hash value for affine32


def tokens(text: str) -> list[str]:
    """Case-folded word tokens: the unit of every comparison.

    >>> tokens("Minister’s £17 MILLION plan")
    ['minister', 's', '17', 'million', 'plan']
    """
    return _TOKEN.findall(text.casefold())


def token_hashes(words: list[str]) -> U64:
    """``word_hash`` of each token's UTF-8 bytes.

    >>> token_hashes(["one", "two"]).tolist() == [word_hash(b"one"), word_hash(b"two")]
    True
    """
    return spaced_hashes(" ".join(words).encode())


def word_hash(word: bytes) -> int:
    """A token's 64-bit hash: its bytes eight at a time (little-endian, the last piece
    padded with zeros), the first piece mixed with its length, each next one added to the
    ``_fmix64`` of the hash so far times ``_COMBINE``, and ``_fmix64`` of the whole. Two
    tokens of at most eight bytes never share a hash (``_fmix64`` is a bijection), and a
    token is hashed in a step per eight bytes, not per byte (``_item_hashes``).

    >>> word_hash(b"council") != word_hash(b"councils")
    True
    """
    h = int.from_bytes(word[:8], "little") ^ (len(word) * int(_COMBINE)) & _MASK64
    for k in range(8, len(word), 8):
        h = (_fmix64_int(h) * int(_COMBINE)) & _MASK64
        h ^= int.from_bytes(word[k : k + 8], "little")
    return _fmix64_int(h)


def _fmix64_int(h: int) -> int:
    """``_fmix64`` of one value, in plain Python."""
    for multiplier in _FMIX64:
        h ^= h >> 33
        h = (h * multiplier) & _MASK64
    return h ^ (h >> 33)


def sentence_tokens(text: str, lines: list[str] | None = None) -> tuple[list[str], list[int]]:
    """The tokens of a text and how many fall in each sentence.

    The sentence breaks hold no word characters, so the tokens are exactly ``tokens(text)``.
    Given ``lines``, appends each line's tokens joined by spaces (``" ".join(tokens(line))``
    for each of ``text.split("\\n")``): every line break ends a sentence, so the same pass
    gives them.

    >>> sentence_tokens("One two. Three\\n\\nfour five")
    (['one', 'two', 'three', 'four', 'five'], [2, 1, 0, 2])
    >>> lines = []
    >>> _ = sentence_tokens("One two. Three\\n\\nfour, FIVE!", lines)
    >>> lines
    ['one two three', '', 'four five']
    """
    words: list[str] = []
    counts: list[int] = []
    find = _TOKEN.findall
    if lines is None:
        for piece in _SENTENCE.split(text):
            found = find(piece.casefold())
            words += found
            counts.append(len(found))
        return words, counts
    parts = _SENTENCE_KEPT.split(text)
    line: list[str] = []
    for i in range(0, len(parts), 2):
        found = find(parts[i].casefold())
        words += found
        counts.append(len(found))
        line += found
        if i + 1 < len(parts) and parts[i + 1][-1] == "\n":  # a break holds one "\n", last
            lines.append(" ".join(line))
            line = []
    lines.append(" ".join(line))
    return words, counts


# The batch tokeniser (``batch_tokens``) joins a batch's texts with ``_TEXT_END`` and finds
# words as UTF-8 bytes: every ASCII byte that is not a word character (``\w``) separates
# words, and so does every non-ASCII character that is not (``str.isalnum``, which is ``\w``
# outside ASCII), so the runs of word bytes are the tokens, ready to hash. Sentence
# breaks, line ends and text ends are found as byte positions, and each is placed among the
# tokens by how many tokens start before it.
_LINE_END, _TEXT_END = "\x01", "\x02"
_ASCII = bytes(range(0x80))


def _byte_class(member: Callable[[int], bool]) -> npt.NDArray[np.bool_]:
    return np.array([member(c) for c in range(256)], dtype=np.bool_)


_IS_WORD = _byte_class(lambda c: c >= 0x80 or chr(c).isalnum() or c == ord("_"))
# ``_SENTENCE`` for the UTF-8 bytes of a text whose non-ASCII characters that are not word
# characters have become b" " (white space) or b"\x03" (the rest): a ``str`` pattern's ``\s``
# is every character ``str.isspace`` (tested), which in ASCII is these ten.
_SENTENCE_BYTES = re.compile(rb"[\n.!?](?:(?<=\n)|[\"')\]]*[\t\n\x0b\x0c\r\x1c-\x1f ])")
_IS_CLOSING = _byte_class(lambda c: chr(c) in "\"')]")
_IS_SPACE = _byte_class(lambda c: chr(c) in "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f ")
# For the lines: word bytes stay, the line and text ends stay, every other byte is a space.
_LINE_BYTES = bytes(c if _IS_WORD[c] or c in (1, 2) else ord(" ") for c in range(256))


@dataclass(frozen=True, slots=True)
class BatchTokens:
    """What ``batch_tokens`` gives: every text's token hashes, one text after another."""

    hashes: U64  # ``word_hash`` of each token's UTF-8 bytes (``token_hashes``)
    token_counts: npt.NDArray[np.int64]  # (n,) tokens of each text
    sentence_counts: npt.NDArray[np.int64]  # tokens of each sentence, text after text
    #: each text's tokens, UTF-8 encoded, each after one space, and " \\x01" between two of its
    #: lines (``b" a b \\x01 \\x01 c"``: lines "a b", "" and "c"), when asked; ``lines``
    #: splits them, ``words`` joins a text's tokens
    spaced: tuple[bytes, ...]
    #: the tokens of each line (``text.split("\\n")``), text after text (when asked)
    line_counts: npt.NDArray[np.int64]

    @property
    def lines(self) -> tuple[list[bytes], ...]:
        """Each text's lines as their tokens joined by spaces, UTF-8 encoded (when asked)."""
        return tuple(self.text_lines(i) for i in range(len(self.spaced)))

    def text_lines(self, i: int) -> list[bytes]:
        """Text ``i``'s lines as their tokens joined by spaces, UTF-8 encoded."""
        return [line[1:] for line in self.spaced[i].split(b" \x01")]

    def words(self, i: int) -> bytes:
        """Text ``i``'s tokens joined by spaces: ``b" ".join`` of its lines that have any."""
        return self.spaced[i].replace(b" \x01", b"")[1:]


def batch_tokens(
    texts: Sequence[str], lines: bool = False, line_counts: bool = False
) -> BatchTokens:
    """``sentence_tokens`` and ``token_hashes`` of many texts in a few passes over all of them.

    The same values as calling them text by text (tested), the lines UTF-8 encoded, several
    times as fast: the texts are case-folded, their tokens split out and hashed, and their
    sentence breaks found once for the whole batch, in numpy. ``lines``: also each line as
    text and its token count; ``line_counts``: the counts alone.

    >>> b = batch_tokens(["One two. Three\\n\\nfour five", ""], lines=True)
    >>> b.token_counts.tolist(), b.sentence_counts.tolist(), b.lines, b.line_counts.tolist()
    ([5, 0], [2, 1, 0, 2, 0], ([b'one two three', b'', b'four five'], [b'']), [3, 0, 2, 0])
    >>> bool((b.hashes == token_hashes(tokens("One two. Three four five"))).all())
    True
    """
    counted = lines or line_counts
    if texts:
        joined = _TEXT_END.join(texts)  # case folding makes no mark (tested)
        if not lines or _LINE_END not in joined:
            fast = _batch_tokens(joined, len(texts), lines, counted)
            if fast is not None:
                return fast
    # A lone surrogate, or texts holding the marks themselves: text by text
    hashes: list[U64] = []
    token_counts: list[int] = []
    sentence_counts: list[int] = []
    text_spaced: list[bytes] = []
    counts_of_lines: list[int] = []
    for text in texts:
        found: list[str] | None = [] if counted else None
        words, counts = sentence_tokens(text, found)
        hashes.append(token_hashes(words))
        token_counts.append(len(words))
        sentence_counts += counts
        if found is not None:
            if lines:  # as ``BatchTokens.spaced`` (tokens hold no " " and no "\x01")
                encoded = (line.encode() for line in found)
                text_spaced.append(b" \x01".join(b" " + e if e else b"" for e in encoded))
            counts_of_lines += [line.count(" ") + 1 if line else 0 for line in found]
    return BatchTokens(
        np.concatenate(hashes) if hashes else np.empty(0, dtype=np.uint64),
        np.array(token_counts, dtype=np.int64),
        np.array(sentence_counts, dtype=np.int64),
        tuple(text_spaced),
        np.array(counts_of_lines, dtype=np.int64),
    )


def _folded_bytes(text: str) -> bytes | None:
    """``text.casefold().encode()`` with each non-ASCII character that is not a word character
    turned into b" " if it is white space, else b"\\x03"; None if the text does not encode.

    Works on the UTF-8 bytes: ASCII letters by ``bytes.lower``, the few distinct non-ASCII
    characters one by one (a valid UTF-8 sequence is only ever found where its character
    is). Case folding maps each character on its own, and what it maps to is folded already
    (tested for every character), so folding them one after another folds the text.
    """
    try:
        data = text.encode().lower()
    except UnicodeEncodeError:  # a lone surrogate
        return None
    wide = data.translate(None, _ASCII)  # the non-ASCII characters, in UTF-8
    if not wide:
        return data
    folded: set[str] = set()
    for char in set(wide.decode()):
        fold = char.casefold()
        if fold != char:
            data = data.replace(char.encode(), fold.encode())
        folded.update(fold)
    for char in folded:
        if char >= "\x80" and not char.isalnum():
            data = data.replace(char.encode(), b" " if char.isspace() else b"\x03")
    return data


def sentence_breaks(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.intp]:
    """Where each match of ``_SENTENCE_BYTES`` in ``data`` starts, in numpy.

    A match is final punctuation followed by closing quotes or brackets and one white-space
    byte, or else a line break on its own: a line break that ends a match of the first kind
    starts none of its own. Byte classes by comparisons, not a table: a gather per byte is
    several times slower.

    >>> data = np.frombuffer(b'Yes. "No!"\\nMaybe?\\n\\nv1.2 ok', dtype=np.uint8)
    >>> sentence_breaks(data).tolist()
    [3, 8, 16, 18]
    """
    newlines = np.flatnonzero(data == 10)
    final = np.flatnonzero((data == 46) | (data == 33) | (data == 63))  # . ! ?
    final = final[final < len(data) - 1]  # the last byte starts no match of the first kind
    after = final + 1
    while len(after):  # step past closing quotes and brackets (short runs, if any)
        closing = _IS_CLOSING[data[after]]
        if not closing.any():
            break
        after[closing] += 1
        inside = after < len(data)
        final, after = final[inside], after[inside]
    ends = _IS_SPACE[data[after]]
    found, after = final[ends], after[ends]
    taken = after[data[after] == 10]  # line breaks that end a match: no match of their own
    if len(taken):
        newlines = np.delete(newlines, np.searchsorted(newlines, taken))
    both = np.concatenate((found, newlines))
    both.sort()
    return both


def word_bytes(data: npt.NDArray[np.uint8]) -> npt.NDArray[np.bool_]:
    """Which bytes are word bytes (``_IS_WORD``), with one False before and after.

    >>> word_bytes(np.frombuffer(b"a_1 -\\xc3\\xa9", dtype=np.uint8)).astype(int).tolist()
    [0, 1, 1, 1, 0, 0, 1, 1, 0]
    """
    out = np.zeros(len(data) + 2, dtype=np.bool_)
    word = out[1:-1]
    np.less(data | np.uint8(0x20), np.uint8(ord("z") + 1), out=word)  # ASCII letters, with
    word &= (data | np.uint8(0x20)) >= np.uint8(ord("a"))  # ... their capitals
    word |= (data - np.uint8(ord("0"))) < np.uint8(10)
    word |= data >= np.uint8(0x80)
    word |= data == np.uint8(ord("_"))
    return out


def _batch_tokens(
    joined: str, n: int, lines: bool, line_counts: bool = False
) -> BatchTokens | None:
    data = _folded_bytes(joined)
    if data is None:
        return None  # a lone surrogate: text by text, as before
    arr = np.frombuffer(data, dtype=np.uint8)
    text_ends = np.flatnonzero(arr == 2)
    if len(text_ends) != n - 1:
        return None  # a text holds the separator itself
    # The characters that became b" " or b"\x03" are white space (``\s``) or in no class of
    # ``_SENTENCE``, as before, so the breaks fall where they fell in the text itself.
    word = word_bytes(arr)
    edges = np.flatnonzero(word[1:] != word[:-1])
    starts, lengths = edges[0::2], edges[1::2] - edges[0::2]
    hashes = _item_hashes(data, starts, lengths)
    total = len(starts)
    # The tokens before each text end, and before each sentence break or text end.
    token_counts = np.diff(np.append(np.searchsorted(starts, text_ends), total), prepend=0)
    marks = np.concatenate((sentence_breaks(arr), text_ends))
    marks.sort()
    cuts = np.append(np.searchsorted(starts, marks), total)
    text_spaced: tuple[bytes, ...] = ()
    counts_of_lines = _NO_COUNTS
    if lines:  # " a b \x01 c \x02 d": every item after one space
        spaced = single_spaced(
            data.replace(b"\n", b" \x01 ").replace(b"\x02", b" \x02 ").translate(_LINE_BYTES)
        )
        text_spaced = tuple(spaced.split(b" \x02"))
    if lines or line_counts:
        line_ends = np.concatenate((np.flatnonzero(arr == 10), text_ends))
        line_ends.sort()
        counts_of_lines = np.diff(np.append(np.searchsorted(starts, line_ends), total), prepend=0)
    return BatchTokens(hashes, token_counts, np.diff(cuts, prepend=0), text_spaced, counts_of_lines)


_NO_COUNTS = np.zeros(0, dtype=np.int64)


def spaced_hashes(data: bytes) -> U64:
    """``word_hash`` of each item of ``data.split(b" ")`` that is not empty (``data`` holds no
    other ASCII white space), in numpy: no ``bytes`` object per item.

    >>> spaced_hashes(b"  ab c ").tolist() == [word_hash(b"ab"), word_hash(b"c")]
    True
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    word = np.zeros(len(arr) + 2, dtype=np.bool_)
    np.not_equal(arr, 32, out=word[1:-1])
    edges = np.flatnonzero(word[1:] != word[:-1])
    return _item_hashes(data, edges[0::2], edges[1::2] - edges[0::2])


#: ``_LOW_BYTES[k]`` keeps the low ``k`` bytes of a uint64 (all of them from 8 on).
_LOW_BYTES = np.array([(1 << (8 * k)) - 1 for k in range(8)] + [_MASK64], dtype=np.uint64)
#: Items longer than this many bytes (rare) are hashed by ``word_hash`` one by one.
_ITEM_STEPS_BYTES = 64


def _item_hashes(data: bytes, starts: npt.NDArray[np.intp], lengths: npt.NDArray[np.intp]) -> U64:
    """``word_hash`` of each ``data[start:start+length]`` (none empty), all at once: the
    eight bytes from each item's start are one unaligned uint64 read of a strided view (no
    step per byte), and the items longer than eight bytes take a step per further eight."""
    padded = data + bytes(8)  # the read at the last byte still has eight
    eights = np.ndarray((len(data),), dtype="<u8", buffer=padded, strides=(1,))
    with np.errstate(over="ignore"):
        h = eights[starts] & _LOW_BYTES[np.minimum(lengths, 8)]
        h ^= lengths.astype(np.uint64) * _COMBINE
        longer = np.flatnonzero((lengths > 8) & (lengths <= _ITEM_STEPS_BYTES))
        k = 8
        while len(longer):
            part = _fmix64(h[longer]) * _COMBINE
            part ^= eights[starts[longer] + k] & _LOW_BYTES[np.minimum(lengths[longer] - k, 8)]
            h[longer] = part
            longer = longer[lengths[longer] > k + 8]
            k += 8
        h = _fmix64(h)
    for i in np.flatnonzero(lengths > _ITEM_STEPS_BYTES).tolist():
        start = int(starts[i])
        h[i] = word_hash(data[start : start + int(lengths[i])])
    return h


def single_spaced(data: bytes) -> bytes:
    """``b" " + b" ".join(data.split(b" ") without empty items)``: one space before each item.

    >>> single_spaced(b"ab  c "), single_spaced(b"ab"), single_spaced(b"  ")
    (b' ab c', b' ab', b'')
    """
    arr = np.frombuffer(data, dtype=np.uint8)
    word = np.zeros(len(arr) + 1, dtype=np.bool_)
    np.not_equal(arr, 32, out=word[:-1])
    kept = arr[word[:-1] | word[1:]].tobytes()  # every item and the space just before it
    return kept if kept[:1] == b" " or not kept else b" " + kept


# Odd multipliers are invertible modulo 2**64: a run's polynomial hash can be read off prefix
# sums and shifted to start at power 0, so equal runs hash equal wherever they occur.
_RUN = 0xD6E8FEB86659FD93
_RUN_INVERSE = pow(_RUN, -1, 2**64)


def _powers(base: int, n: int) -> U64:
    """``base ** i`` modulo 2**64 for ``i`` below ``n``; the first ``_POWERS_KEPT`` are made
    once per process (verification asks for them text by text).

    >>> _powers(3, 5).tolist(), _powers(3, 2).tolist()
    ([1, 3, 9, 27, 81], [1, 3])
    """
    if n <= _POWERS_KEPT:
        kept = _powers_kept.get(base)
        if kept is None:
            kept = _powers_kept[base] = _powers_made(base, _POWERS_KEPT)
        return kept[:n]
    return _powers_made(base, n)


def _powers_made(base: int, n: int) -> U64:
    out = np.full(n, base, dtype=np.uint64)
    out[0] = 1
    return np.cumprod(out, dtype=np.uint64)


#: Powers kept per base: 512 KB each, more tokens than all but the longest texts have.
_POWERS_KEPT = 1 << 16
_powers_kept: dict[int, U64] = {}


def run_hashes(hashes: U64, starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]) -> U64:
    """One 64-bit hash per run ``hashes[start:start+length]``, depending only on its values."""
    return prefix_run_hashes(run_prefix(hashes), starts, lengths)


def prefix_run_hashes(
    prefix: U64, starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> U64:
    """``run_hashes`` from the hashes' ``run_prefix``: made once for several sets of runs."""
    with np.errstate(over="ignore"):
        inverse = _powers(_RUN_INVERSE, len(prefix))
        runs = (prefix[starts + lengths] - prefix[starts]) * inverse[starts]
        return _fmix64(runs + lengths.astype(np.uint64) * _COMBINE)


def run_hash(hashes: Sequence[int]) -> int:
    """``run_hashes`` of one run, in plain Python: a short run (a title, a line) costs a few
    microseconds, not a dozen numpy calls.

    >>> h = [3, 1, 4, 1, 5]
    >>> run_hash(h) == int(run_hashes(np.array(h, np.uint64), np.array([0]), np.array([5]))[0])
    True
    """
    acc, power = 0, 1
    for value in hashes:
        acc = (acc + value * power) & _MASK64
        power = (power * _RUN) & _MASK64
    return _fmix64_int((acc + len(hashes) * int(_COMBINE)) & _MASK64)


def run_prefix(hashes: U64) -> U64:
    """The prefix sums ``run_hashes`` reads its runs' hashes off."""
    n = len(hashes)
    prefix = np.zeros(n + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(hashes * _powers(_RUN, n), out=prefix[1:])
    return prefix


def distinct_run_hashes(
    hashes: U64, starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> U64:
    """The distinct ``run_hashes`` of these runs, sorted (none for no runs)."""
    if not len(starts):
        return np.empty(0, dtype=np.uint64)
    return sorted_distinct(run_hashes(hashes, starts, lengths))


def sentence_runs(
    counts: Sequence[int] | npt.NDArray[np.int64], offset: int = 0
) -> tuple[npt.NDArray[np.int64], ...]:
    lengths = np.asarray(counts, dtype=np.int64)
    starts = np.cumsum(lengths) - lengths + offset
    long = lengths >= MIN_SENTENCE_WORDS
    return starts[long], lengths[long]


def word_hashes(words: list[str], counts: Sequence[int], size: int) -> tuple[U32, U64]:
    """Distinct shingle hashes and distinct sentence hashes of tokens already split out:
    ``words`` and ``counts`` as ``sentence_tokens`` gives them.

    Sentences of no words may be left out of ``counts`` or added to it: only the runs of
    ``MIN_SENTENCE_WORDS`` or more words are hashed, each where the counts before it put it.
    """
    hashes = token_hashes(words)
    return shingles_of(hashes, size), distinct_run_hashes(hashes, *sentence_runs(counts))


def sentence_hashes(text: str) -> U64:
    """Sorted 64-bit hashes of the distinct long sentences of a text (quotes, passages).

    >>> len(sentence_hashes("Too short. " + "This sentence has more than eight words in it. " * 2))
    1
    """
    words, counts = sentence_tokens(text)
    return distinct_run_hashes(token_hashes(words), *sentence_runs(counts))


def runs(ordered: _A) -> tuple[npt.NDArray[np.intp], npt.NDArray[np.intp]]:
    """Where each run of equal values of a sorted array starts, and how long it is.

    >>> [x.tolist() for x in runs(np.array([1, 1, 2, 5, 5, 5]))]
    [[0, 2, 3], [2, 1, 3]]
    """
    starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
    return starts, np.diff(np.r_[starts, len(ordered)])


def sorted_distinct(values: _A) -> _A:
    """``np.unique(values)`` for a small 1-d array: a plain sort and a mask, several times
    faster than numpy 2's hashing ``unique`` at a few hundred values.

    >>> sorted_distinct(np.array([3, 1, 3, 2], dtype=np.uint32)).tolist()
    [1, 2, 3]
    """
    ordered = np.sort(values)
    if len(ordered) < 2:
        return ordered
    keep = np.empty(len(ordered), dtype=np.bool_)
    keep[0] = True
    np.not_equal(ordered[1:], ordered[:-1], out=keep[1:])
    return ordered[keep]


def _fmix64(h: U64) -> U64:
    """MurmurHash3's 64-bit finaliser: spreads every input bit over the output."""
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(_FMIX64[0])
    h = h ^ (h >> np.uint64(33))
    h = h * np.uint64(_FMIX64[1])
    return h ^ (h >> np.uint64(33))


def shingle_hashes(words: list[str], size: int) -> U32:
    """Sorted, distinct 32-bit hashes of the word ``size``-grams (all words if fewer).

    >>> a = shingle_hashes(tokens("one two three four five six"), 5)
    >>> len(a), a.dtype
    (2, dtype('uint32'))
    >>> len(shingle_hashes(["short", "text"], 5)), len(shingle_hashes([], 5))
    (1, 0)
    """
    return shingles_of(token_hashes(words), size)


def shingles_of(th: U64, size: int) -> U32:
    if not len(th):
        return np.empty(0, dtype=np.uint32)
    n = max(len(th) - size + 1, 1)
    return sorted_distinct(_windows(th, min(size, len(th)), n).astype(np.uint32))


def _windows(hashes: U64, width: int, count: int) -> U64:
    """The hash of each of the first ``count`` runs of ``width`` consecutive tokens (a
    shingle's hash: 32 bits, in a uint64), from the tokens' hashes."""
    with np.errstate(over="ignore"):
        acc = np.zeros(count, dtype=np.uint64)
        for j in range(width):
            acc = acc * _COMBINE + hashes[j : j + count]
        out: U64 = _fmix64(acc + np.uint64(width)) >> np.uint64(32)
    return out


def text_shingles(hashes: U64, counts: npt.NDArray[np.int64], size: int) -> list[U32]:
    """``shingles_of`` of each text's tokens, ``hashes`` holding many texts' token hashes end
    to end (``counts[i]`` of them for text ``i``): the windows of all texts at once, then one
    sort of ``text << 32 | shingle`` keys, so a text costs a slice, not a dozen numpy calls.

    >>> h = token_hashes(tokens("one two three four five six seven eight nine"))
    >>> parts = text_shingles(h, np.array([7, 0, 2]), 5)
    >>> [len(p) for p in parts], bool((parts[0] == shingles_of(h[:7], 5)).all())
    ([3, 0, 1], True)
    """
    n = len(counts)
    ends = np.cumsum(counts)
    out: list[U32] = [np.empty(0, dtype=np.uint32)] * n
    total = int(ends[-1]) if n else 0
    windows = total - size + 1
    if windows > 0:
        mixed = _windows(hashes, size, windows)
        owner = np.repeat(np.arange(n, dtype=np.uint64), counts)
        inside = owner[:windows] == owner[size - 1 :]  # a window of one text's tokens
        keys = (owner[:windows][inside] << np.uint64(32)) | mixed[inside]
        keys = sorted_distinct(keys)
        bounds = np.searchsorted(keys >> np.uint64(32), np.arange(n + 1, dtype=np.uint64)).tolist()
        values = (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)
        for i in np.flatnonzero(counts >= size).tolist():
            out[i] = values[bounds[i] : bounds[i + 1]]
    for i in np.flatnonzero((counts > 0) & (counts < size)).tolist():  # one shingle of all
        end = int(ends[i])
        out[i] = shingles_of(hashes[end - int(counts[i]) : end], size)
    return out


@lru_cache(maxsize=8)
def permutations(num_perm: int, seed: int) -> tuple[U32, U32]:
    """datasketch's affine32 permutation parameters ``(a, b)`` for these settings.

    Drawn as datasketch 2.x draws them, without importing it (its import costs ~0.5 s in
    every worker process):

    >>> from datasketch import MinHash
    >>> a, b = MinHash(num_perm=128, seed=1, scheme="affine32").permutations
    >>> mine = permutations(128, 1)
    >>> bool((mine[0] == a).all() and (mine[1] == b).all())
    True
    """
    gen = np.random.RandomState(seed)
    a = gen.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
    b = gen.randint(0, 1 << 32, num_perm, dtype=np.uint32)
    return np.ascontiguousarray(a, dtype=np.uint32), np.ascontiguousarray(b, dtype=np.uint32)


def _fmix32(h: U32) -> U32:
    h = h ^ (h >> np.uint32(16))
    h = h * np.uint32(0x85EBCA6B)
    h = h ^ (h >> np.uint32(13))
    h = h * np.uint32(0xC2B2AE35)
    return h ^ (h >> np.uint32(16))


def minhash(shingles: U32, num_perm: int = 128, seed: int = 1) -> U32:
    """MinHash signature of a set of 32-bit shingle hashes (datasketch affine32 semantics).

    >>> from datasketch import MinHash
    >>> s = shingle_hashes(tokens("a b c d e f g h i j k"), 5)
    >>> m = MinHash(num_perm=16, seed=1, hashfunc=int)
    >>> m.update_batch(s.tolist())
    >>> bool((minhash(s, 16, 1) == m.hashvalues).all())
    True
    """
    a, b = permutations(num_perm, seed)
    if len(shingles) == 0:
        return np.full(num_perm, _EMPTY, dtype=np.uint32)
    out = np.full(num_perm, _EMPTY, dtype=np.uint32)
    with np.errstate(over="ignore"):
        mixed = _fmix32(shingles.astype(np.uint32))
        for start in range(0, len(mixed), 4096):  # bound the (n x num_perm) temporary
            chunk = mixed[start : start + 4096, None]
            np.minimum(out, (chunk * a + b).min(axis=0), out=out)
    return out


def band_keys(signature: U32, bands: int) -> U64:
    """One 64-bit key per LSH band: the band's rows hashed together with the band number.

    Two articles are LSH candidates when any band key is equal, which happens with
    probability 1-(1-J^rows)^bands for Jaccard J.
    """
    rows = len(signature) // bands
    m = signature[: bands * rows].reshape(bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.arange(bands, dtype=np.uint64)
        for r in range(rows):
            acc = acc * _COMBINE + m[:, r]
        return _fmix64(acc)


@dataclass(frozen=True, slots=True)
class SketchBatch:
    """Sketches of a batch of texts as arrays: row ``i`` belongs to text ``i``."""

    signatures: U32  # (n, num_perm)
    band_keys: U64  # (n, bands); meaningless where ``shingled`` is False
    shingled: npt.NDArray[np.bool_]  # (n,) the text has at least one shingle
    sentences: U64  # every text's distinct long-sentence hashes, sorted, one text after another
    sentence_counts: npt.NDArray[np.int64]  # (n,) how many of ``sentences`` each text has
    #: every text's distinct body-line hashes (``boilerplate.line_hash``), sorted, one text
    #: after another (when asked for), and how many each text has
    lines: U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    line_counts: npt.NDArray[np.int64] = field(default_factory=lambda: _NO_COUNTS)
    #: (n,) the hash of each text's title (``boilerplate.title_hash``), when asked for
    titles: U64 = field(default_factory=lambda: np.empty(0, dtype=np.uint64))
    #: (n,) how many distinct shingles each text has (``Sketch.shingles``), when asked for
    shingle_counts: npt.NDArray[np.int64] = field(default_factory=lambda: _NO_COUNTS)

    def rows(self, lo: int, hi: int) -> SketchBatch:
        """Texts ``lo`` to ``hi`` (exclusive): what ``sketch_texts`` of them alone gives."""
        at = np.cumsum(self.sentence_counts)
        s_lo, s_hi = (int(at[lo - 1]) if lo else 0), (int(at[hi - 1]) if hi else 0)
        lines, line_counts = self.lines, self.line_counts
        if len(line_counts):
            ends = np.cumsum(line_counts)
            l_lo, l_hi = (int(ends[lo - 1]) if lo else 0), (int(ends[hi - 1]) if hi else 0)
            lines, line_counts = lines[l_lo:l_hi], line_counts[lo:hi]
        return SketchBatch(
            self.signatures[lo:hi],
            self.band_keys[lo:hi],
            self.shingled[lo:hi],
            self.sentences[s_lo:s_hi],
            self.sentence_counts[lo:hi],
            lines,
            line_counts,
            self.titles[lo:hi] if len(self.titles) else self.titles,
            self.shingle_counts[lo:hi] if len(self.shingle_counts) else self.shingle_counts,
        )

    def sketch(self, i: int, article_id: str, shingles: int | None = None) -> Sketch:
        """Text ``i`` as a ``Sketch`` record (its distinct ``shingles``: this batch's count
        when it has them), with its body-line hashes when the batch has them."""
        start = int(self.sentence_counts[:i].sum())
        sentences = self.sentences[start : start + int(self.sentence_counts[i])]
        bands = self.band_keys[i] if self.shingled[i] else np.empty(0, dtype=np.uint64)
        lines = b""
        if len(self.line_counts):
            first = int(self.line_counts[:i].sum())
            lines = self.lines[first : first + int(self.line_counts[i])].astype("<u8").tobytes()
        return Sketch(
            article_id,
            self.signatures[i].astype("<u4").tobytes(),
            int(self.shingle_counts[i]) if shingles is None else shingles,
            bands.astype("<u8").tobytes(),
            sentences.astype("<u8").tobytes(),
            lines,
        )


def sketch_texts(
    texts: Sequence[str],
    config: SketchConfig = SketchConfig(),
    body_from: Sequence[int] | None = None,
    shingle_counts: bool = False,
) -> SketchBatch:
    """Signatures, band keys and sentence hashes of many texts, tokenised once, in numpy.

    ``body_from``: the number of each text's first body line (an article's title lines and
    the blank line after them): then the batch also gives the hashes of each text's body
    lines that hold a token, ``boilerplate.line_hash`` of each, and of its title
    (``boilerplate.title_hash``), from the same pass. Texts are cut at ``max_article_chars``
    first. The distinct shingle hashes are not kept: verification takes them from the few
    texts it compares (``shingle_hashes``); ``shingle_counts``: how many each text has.

    The same values as ``minhash(shingle_hashes(tokens(text)))``, ``band_keys`` and
    ``sentence_hashes`` text by text (tested), at a fraction of the per-call cost.

    >>> batch = sketch_texts(["one two three four five six", "", "one two three"])
    >>> batch.shingled.tolist(), batch.signatures.shape
    ([True, False, True], (3, 128))
    >>> one = shingle_hashes(tokens("one two three four five six"), 5)
    >>> bool((batch.signatures[0] == minhash(one)).all())
    True
    """
    size, n = config.shingle_size, len(texts)
    limit = config.max_article_chars
    cut = [t[:limit] if len(t) > limit else t for t in texts]
    tokenised = batch_tokens(cut, line_counts=body_from is not None)
    hashes, token_counts = tokenised.hashes, tokenised.token_counts
    piece_counts = tokenised.sentence_counts
    token_starts = np.cumsum(token_counts) - token_counts

    # Shingles: every window of `size` tokens inside one text (a shorter text: one window).
    total = len(hashes)
    windows = max(total - size + 1, 0)
    with np.errstate(over="ignore"):
        mixed = _fmix32(_windows(hashes, size, windows).astype(np.uint32))
    a, b = permutations(config.num_perm, config.seed)
    signatures = np.full((n, config.num_perm), _EMPTY, dtype=np.uint32)
    shingled = token_counts > 0
    long = token_counts >= size
    # Each text's own windows (those that span two texts are left out); a text shorter than
    # a shingle has one shingle, of all its words.
    with np.errstate(over="ignore"):
        for i in np.flatnonzero(shingled & ~long).tolist():
            start, count = int(token_starts[i]), int(token_counts[i])
            signatures[i] = _fmix32(shingles_of(hashes[start : start + count], size)) * a + b
        rows = np.flatnonzero(long)
        lo = token_starts[rows]
        _minhash_segments(mixed, lo, lo + token_counts[rows] - size + 1, a, b, signatures, rows)
    keys = _band_key_rows(signatures, config.bands)

    # Sentences: runs of at least MIN_SENTENCE_WORDS tokens between sentence breaks.
    starts, lengths = sentence_runs(piece_counts)
    owners = np.searchsorted(token_starts, starts, side="right") - 1
    prefix = run_prefix(hashes)
    sentences, sentence_counts = _distinct_runs(prefix, starts, lengths, owners, n)
    counted = _NO_COUNTS
    if shingle_counts:
        counted = np.array([len(s) for s in text_shingles(hashes, token_counts, size)])
    if body_from is None:
        return SketchBatch(
            signatures, keys, shingled, sentences, sentence_counts, shingle_counts=counted
        )
    # Body lines: each text's lines from its ``body_from``-th on, those with a token; the
    # title: the run of the tokens of its lines before the blank one.
    line_counts = tokenised.line_counts
    per_text = np.array([t.count("\n") + 1 for t in cut], dtype=np.int64)
    text_first_line = np.cumsum(per_text) - per_text
    first_line = np.repeat(text_first_line, per_text)
    number = np.arange(len(line_counts), dtype=np.int64) - first_line
    starts_at = np.asarray(body_from, dtype=np.int64)
    body = (number >= np.repeat(starts_at, per_text)) & (line_counts > 0)
    line_token_starts = np.append(np.cumsum(line_counts) - line_counts, len(hashes))
    line_starts = line_token_starts[:-1][body]
    line_owners = np.repeat(np.arange(n, dtype=np.int64), per_text)[body]
    lines, counts = _distinct_runs(prefix, line_starts, line_counts[body], line_owners, n)
    title_end = line_token_starts[text_first_line + np.minimum(starts_at - 1, per_text)]
    titles = prefix_run_hashes(prefix, token_starts, title_end - token_starts)
    return SketchBatch(
        signatures, keys, shingled, sentences, sentence_counts, lines, counts, titles, counted
    )


def _distinct_runs(
    prefix: U64,
    starts: npt.NDArray[np.int64],
    lengths: npt.NDArray[np.int64],
    owners: npt.NDArray[np.int64],
    n: int,
) -> tuple[U64, npt.NDArray[np.int64]]:
    """The distinct ``run_hashes`` (from their ``run_prefix``) of each owner's runs (owners
    ascending, ``0 <= owner < n``), sorted, one owner after another, and how many each owner
    has."""
    if not len(starts):
        return np.empty(0, dtype=np.uint64), np.zeros(n, dtype=np.int64)
    found = prefix_run_hashes(prefix, starts, lengths)
    # By owner, then hash: one unstable sort of the hashes, then a stable one of their owners
    # (by radix when they fit 16 bits); equal pairs may come in any order, as they are one.
    # About 5x faster than ``np.lexsort((found, owners))`` on 12,000 runs.
    order = np.argsort(found)
    owned = owners[order]
    order = order[np.argsort(owned.astype(np.uint16) if n <= 1 << 16 else owned, kind="stable")]
    found, owners = found[order], owners[order]
    keep = np.r_[True, (found[1:] != found[:-1]) | (owners[1:] != owners[:-1])]
    found, owners = found[keep], owners[keep]
    return found, np.bincount(owners, minlength=n).astype(np.int64)


def _minhash_segments(
    values: U32,
    starts: npt.NDArray[np.int64],
    ends: npt.NDArray[np.int64],
    a: U32,
    b: U32,
    out: U32,
    rows: npt.NDArray[np.int64],
    shingles: int | None = None,
) -> None:
    """``out[rows[k]]`` = the MinHash of ``values[starts[k]:ends[k]]`` (segments in order,
    none empty), many segments per block of ``shingles`` (default: ``block_shingles``). A
    block is laid out (num_perm x shingles), so one ``minimum.reduceat`` along its rows gives
    the minimum of each segment and of each gap between two (dropped): about 1.7x faster than
    one (shingles x num_perm) block per text, whose minimum runs across rows."""
    k, total = 0, len(starts)
    width = block_shingles(len(a)) if shingles is None else shingles
    starts_l, ends_l = starts.tolist(), ends.tolist()
    a_col, b_col = a[:, None], b[:, None]
    block = np.empty((len(a), width), dtype=np.uint32)  # every block is a view of this one
    while k < total:
        first = starts_l[k]
        j = k + 1
        while j < total and ends_l[j] - first <= width:
            j += 1
        last = ends_l[j - 1]
        if last - first > width:  # one long text: in chunks
            sig = np.full(len(a), _EMPTY, dtype=np.uint32)
            for lo in range(first, last, width):
                hi = min(lo + width, last)
                m = np.multiply(a_col, values[None, lo:hi], out=block[:, : hi - lo])
                m += b_col
                np.minimum(sig, m.min(axis=1), out=sig)
            out[rows[k]] = sig
        else:
            m = np.multiply(a_col, values[None, first:last], out=block[:, : last - first])
            m += b_col
            cuts = np.empty(2 * (j - k) - 1, dtype=np.int64)
            cuts[0::2] = starts[k:j] - first
            cuts[1::2] = ends[k : j - 1] - first
            out[rows[k:j]] = np.minimum.reduceat(m, cuts, axis=1)[:, 0::2].T
        k = j


#: Bytes of one MinHash block (num_perm x shingles, uint32), written into one buffer per call.
#: The three passes over a block (multiply, add, minimum) run about 1.1x faster when it stays
#: in a core's 2 MB L2 cache than at 4 MB; much smaller blocks hold too few texts each, and
#: each block costs a few numpy calls (at 128 permutations, 1,000 to 2,400 shingles a block
#: were 1.0x to 1.45x slower than 3,000 to 3,600; a power of two as the row length made
#: ``reduceat`` slow).
_BLOCK_BYTES = 1_600_000


def block_shingles(num_perm: int) -> int:
    """Shingles in one MinHash block: 3,125 at 128 permutations."""
    return max(_BLOCK_BYTES // (4 * num_perm), 1)


def _band_key_rows(signatures: U32, bands: int) -> U64:
    """``band_keys`` of every row of a signature matrix."""
    n, num_perm = signatures.shape
    rows = num_perm // bands
    m = signatures[:, : bands * rows].reshape(n, bands, rows).astype(np.uint64)
    with np.errstate(over="ignore"):
        acc = np.broadcast_to(np.arange(bands, dtype=np.uint64), (n, bands)).copy()
        for r in range(rows):
            acc = acc * _COMBINE + m[:, :, r]
        return _fmix64(acc)


def article_shingles(article: Article, config: SketchConfig) -> U32:
    text = article.text[: config.max_article_chars]
    return shingle_hashes(tokens(text), config.shingle_size)


def sketch_article(
    article: Article,
    config: SketchConfig = SketchConfig(),
    sentences: Callable[[str], U64] | None = None,
    lines: Callable[[Article], U64] | None = None,
) -> Sketch:
    """Signature, band keys and (optionally) sentence and body-line hashes of one article."""
    shingles = article_shingles(article, config)
    sig = minhash(shingles, config.num_perm, config.seed)
    keys = band_keys(sig, config.bands) if len(shingles) else np.empty(0, dtype=np.uint64)
    sent = sentences(article.text[: config.max_article_chars]) if sentences else None
    return Sketch(
        article.id,
        sig.astype("<u4").tobytes(),
        len(shingles),
        keys.astype("<u8").tobytes(),
        sent.astype("<u8").tobytes() if sent is not None else b"",
        lines(article).astype("<u8").tobytes() if lines is not None else b"",
    )


def signature_array(sketch: Sketch) -> U32:
    return np.frombuffer(sketch.signature, dtype="<u4").astype(np.uint32)


def sketch_articles(
    articles: Iterable[Article], config: SketchConfig = SketchConfig()
) -> Iterator[Sketch]:
    for article in articles:
        yield sketch_article(article, config)
