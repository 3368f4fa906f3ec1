"""Download rules and episode filters, from tables."""

import pytest

from app.engine.rss.rules import Rule, RuleError, check, choose, matches, parse_episode, parse_filter, taken_key

LAST = 10**6


@pytest.mark.parametrize(("title", "episode"), [
    ("Show.S01E02.720p.WEB", (1, 2)),
    ("Show s10e115 HEVC", (10, 115)),
    ("Show 1x02 HDTV", (1, 2)),
    ("Show 12x03", (12, 3)),
    ("Show - Season 1 Complete", None),
    ("Resolution 1920x1080", None),  # 4-digit season is not a season
])
def test_episodes_are_read_from_titles(title, episode):
    assert parse_episode(title) == episode


@pytest.mark.parametrize(("text", "ranges"), [
    ("", ()),
    ("1x02", (((1, 2), (1, 2)),)),
    ("S01E01-S01E10", (((1, 1), (1, 10)),)),
    ("1x01-;2x", (((1, 1), (LAST, LAST)), ((2, 0), (2, LAST)))),
    ("S03; 4x05 - 4x07 ;", (((3, 0), (3, LAST)), ((4, 5), (4, 7)))),
])
def test_filters_are_read_into_ranges(text, ranges):
    assert parse_filter(text) == ranges


@pytest.mark.parametrize("text", ["banana", "x02", "S01E01-soon", "1x02-3"])
def test_a_bad_filter_is_said_in_words(text):
    with pytest.raises(RuleError, match="is not an episode like S01E02"):
        parse_filter(text)


SHOW = Rule("show", must_contain="show 1080p", must_not_contain="cam hevc", episode_filter="S01E02-S01E04;2x")

@pytest.mark.parametrize(("rule", "title", "taken"), [
    (SHOW, "The.Show.S01E03.1080p.WEB", True),
    (SHOW, "the show s01e03 1080P", True),  # case never matters
    (SHOW, "The.Show.S01E03.720p.WEB", False),  # a must-contain word is missing
    (SHOW, "The.Show.S01E03.1080p.HEVC", False),  # a must-not-contain word is there
    (SHOW, "The.Show.S01E05.1080p", False),  # outside the range
    (SHOW, "The.Show.S02E11.1080p", True),  # the whole of season 2
    (SHOW, "The.Show.S03E01.1080p", False),
    (SHOW, "The.Show.1080p.Special", False),  # a filter wants an episode
    (Rule("any"), "anything at all", True),
    (Rule("off", enabled=False), "anything at all", False),
    (Rule("re", must_contain=r"^show\b.*(720|1080)p", must_not_contain=r"\bcam\b", regex=True), "Show S01E01 720p", True),
    (Rule("re", must_contain=r"^show\b.*(720|1080)p", must_not_contain=r"\bcam\b", regex=True), "Show S01E01 720p CAM", False),
    (Rule("re", must_contain=r"^show\b", regex=True), "The Show S01E01", False),
    (Rule("from", episode_filter="1x05-"), "Show 1x04", False),
    (Rule("from", episode_filter="1x05-"), "Show 1x05", True),
    (Rule("from", episode_filter="1x05-"), "Show 7x01", True),
])
def test_rules_take_the_titles_they_should(rule, title, taken):
    assert matches(rule, title) is taken


def test_an_episode_already_taken_is_skipped_by_that_rule_only():
    first, second = Rule("a", "show"), Rule("b", "show")
    taken = [taken_key(first, "Show S01E02 720p")]
    assert choose([first], "Show S01E02 1080p", taken) is None  # same episode, other quality
    assert choose([first], "Show S01E03 1080p", taken) == first
    assert choose([first, second], "Show S01E02 1080p", taken) == second


def test_titles_without_an_episode_are_never_counted_as_taken():
    rule = Rule("a", "linux")
    assert taken_key(rule, "Linux ISO") is None
    assert choose([rule], "Linux ISO", []) == rule


@pytest.mark.parametrize(("rule", "message"), [
    (Rule(" "), "needs a name"),
    (Rule("bad", must_contain="(unclosed", regex=True), "bad regular expression"),
    (Rule("bad", episode_filter="S01E01-later"), "not an episode"),
])
def test_an_unusable_rule_is_refused_in_words(rule, message):
    with pytest.raises(RuleError, match=message):
        check(rule)
