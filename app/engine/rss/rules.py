"""Download rules for feed items: pure, no I/O, no clock.

A rule takes an item when its title has every "must contain" word, none of the "must not
contain" words (or, with `regex`, when the patterns search / do not search the title; case
never matters), and, if the rule has an episode filter, when the title names an episode the
filter lets through. An episode a rule has already taken is skipped, so a show posted in
three qualities is downloaded once, as qBittorrent does.

Episode filters (qBittorrent's format, with S01E02 accepted beside 1x02), ';' between parts:
  1x02        one episode          1x02-1x10 / S01E02-S01E10   a range
  1x02-       that one and every later one, later seasons too
  2x / S02    the whole season
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Final

from app.engine.errors import EngineError

Episode = tuple[int, int]  # (season, episode)

_EPISODE: Final = re.compile(r"\b(?:s(\d{1,3})\s*e(\d{1,4})|(\d{1,3})x(\d{1,4}))\b", re.IGNORECASE)
_SEASON: Final = re.compile(r"(?:s(\d{1,3})|(\d{1,3})x)", re.IGNORECASE)
_LAST: Final = 10**6  # beyond any real episode number


class RuleError(EngineError):
    """A rule that cannot be used: a bad regular expression or episode filter."""


@dataclass(frozen=True, slots=True)
class Rule:
    name: str
    must_contain: str = ""
    must_not_contain: str = ""
    regex: bool = False  # the two fields above are regular expressions
    episode_filter: str = ""  # "" lets every item through
    category: str = ""
    save_path: str = ""  # "" : the category's folder, else the download folder
    enabled: bool = True


def parse_episode(title: str) -> Episode | None:
    """The first S01E02 or 1x02 in the title, as (season, episode)."""
    found = _EPISODE.search(title)
    if found is None:
        return None
    season, episode = (found.group(1), found.group(2)) if found.group(1) else (found.group(3), found.group(4))
    return int(season), int(episode)


def _bound(text: str) -> Episode:
    episode = parse_episode(text)
    if episode is None or _EPISODE.fullmatch(text) is None:
        raise RuleError(f"'{text}' is not an episode like S01E02 or 1x02.")
    return episode


def _season(text: str) -> tuple[Episode, Episode] | None:
    found = _SEASON.fullmatch(text)
    if found is None:
        return None
    season = int(found.group(1) or found.group(2))
    return (season, 0), (season, _LAST)


def _part(text: str) -> tuple[Episode, Episode]:
    """One ';'-separated part of a filter as an inclusive range."""
    season = _season(text)
    if season is not None:
        return season
    low, dash, high = text.partition("-")
    first = _bound(low.strip())
    if not dash:
        return first, first
    return first, (_bound(high.strip()) if high.strip() else (_LAST, _LAST))


def parse_filter(text: str) -> tuple[tuple[Episode, Episode], ...]:
    """The filter's ranges; RuleError in plain words if a part cannot be read."""
    return tuple(_part(part.strip()) for part in text.split(";") if part.strip())


def _regex(pattern: str, rule: Rule) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise RuleError(f"The rule '{rule.name}' has a bad regular expression '{pattern}': {exc}.") from None


def check(rule: Rule) -> None:
    """Raise RuleError if the rule's name, expressions or episode filter are unusable."""
    if not rule.name.strip():
        raise RuleError("A rule needs a name.")
    if rule.regex:
        _regex(rule.must_contain, rule)
        _regex(rule.must_not_contain, rule)
    parse_filter(rule.episode_filter)


def _words_match(rule: Rule, title: str) -> bool:
    lowered = title.lower()
    wanted = rule.must_contain.lower().split()
    unwanted = rule.must_not_contain.lower().split()
    return all(w in lowered for w in wanted) and not any(w in lowered for w in unwanted)


def _regex_match(rule: Rule, title: str) -> bool:
    wanted = not rule.must_contain or _regex(rule.must_contain, rule).search(title) is not None
    unwanted = bool(rule.must_not_contain) and _regex(rule.must_not_contain, rule).search(title) is not None
    return wanted and not unwanted


def _episode_allowed(rule: Rule, episode: Episode | None) -> bool:
    ranges = parse_filter(rule.episode_filter)
    if not ranges:
        return True
    return episode is not None and any(low <= episode <= high for low, high in ranges)


def matches(rule: Rule, title: str) -> bool:
    """Whether the rule wants an item of this title (its episode not yet considered taken)."""
    if not rule.enabled:
        return False
    text_match = _regex_match if rule.regex else _words_match
    return text_match(rule, title) and _episode_allowed(rule, parse_episode(title))


def taken_key(rule: Rule, title: str) -> str | None:
    """What marks the title's episode as taken by this rule; None when it names none."""
    episode = parse_episode(title)
    return None if episode is None else f"{rule.name}\t{episode[0]}\t{episode[1]}"


def choose(rules: Sequence[Rule], title: str, taken: Iterable[str]) -> Rule | None:
    """The first rule that takes the item, skipping episodes that rule has taken already."""
    done = set(taken)
    for rule in rules:
        if matches(rule, title) and taken_key(rule, title) not in done:
            return rule
    return None
