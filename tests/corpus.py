"""Synthetic Chinese article text for search tests and the search benchmark: deterministic,
with the statistics that matter to a trigram index.

Real news text has thousands of distinct characters and a Zipf-like word distribution: most
trigrams are rare, a few are everywhere. A small fixed vocabulary (a few dozen words) gets
the opposite, and makes PostgreSQL's GIN cost estimate, and so its plans, unlike production.
"""

from __future__ import annotations

import itertools
import random
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

FIRST_CJK = 0x4E00
CHARACTERS = 3000  # distinct characters drawn from (a common newspaper uses ~3,500)
VOCABULARY = 8000  # distinct words, Zipf-distributed
RARE_PHRASE = "鳄鱼湖畔"  # planted by `Corpus.article(rare=True)`; never generated otherwise
PUNCTUATION = "，。、；"


@dataclass
class Corpus:
    seed: int = 0
    rng: random.Random = field(init=False)
    words: list[str] = field(init=False)
    cum_weights: list[float] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        # Frequent characters first, so frequent words are made of frequent characters.
        chars = [chr(FIRST_CJK + i) for i in range(CHARACTERS)]
        char_weights = [1 / (rank + 1) ** 0.8 for rank in range(CHARACTERS)]
        words: set[str] = set()
        while len(words) < VOCABULARY:
            size = self.rng.choices((1, 2, 3, 4), weights=(2, 6, 2, 1))[0]
            word = "".join(self.rng.choices(chars, weights=char_weights, k=size))
            if RARE_PHRASE not in word:
                words.add(word)
        self.words = sorted(words)
        self.rng.shuffle(self.words)
        # Cumulative weights, computed once: random.choices redoes it for plain weights.
        self.cum_weights = list(itertools.accumulate(1 / (r + 1) for r in range(VOCABULARY)))

    def sentence(self, words: int) -> str:
        picked = self.rng.choices(self.words, cum_weights=self.cum_weights, k=words)
        return "".join(picked) + self.rng.choice(PUNCTUATION)

    def text(self, chars: int) -> str:
        out: list[str] = []
        size = 0
        while size < chars:
            sentence = self.sentence(self.rng.randint(5, 15))
            out.append(sentence)
            size += len(sentence)
        return "".join(out)

    def article(self, n: int, *, rare: bool = False) -> dict:
        """Title, text (about 800 characters, in paragraphs) and publish time of article `n`."""
        text = "\n".join(self.text(self.rng.randint(100, 300)) for _ in range(4))
        if rare:
            text += f"\n{RARE_PHRASE}"
        return {
            "title": self.text(12)[:20],
            "text": text,
            "published_at": datetime(2023, 1, 1, tzinfo=UTC) + timedelta(hours=3 * n),
        }

    def common_words(self, size: int, k: int) -> list[str]:
        """`k` of the most frequent words of exactly `size` characters."""
        return [w for w in self.words if len(w) == size][:k]
