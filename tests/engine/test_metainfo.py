import hashlib
from pathlib import Path
from typing import Any

import libtorrent as lt
import pytest

from app.engine.bencode import encode
from app.engine.errors import BencodeError, MetainfoError
from app.engine.metainfo import (
    FileEntry,
    load_metainfo,
    parse_info,
    parse_metainfo,
    safe_component,
)

FIXTURES = Path(__file__).parent / "fixtures"
PIECE = 16384


def hashes(count: int) -> bytes:
    return b"".join(hashlib.sha1(bytes([n])).digest() for n in range(count))


def single_info(**changes: Any) -> dict[bytes, Any]:
    info: dict[bytes, Any] = {
        b"name": b"movie.mkv",
        b"piece length": PIECE,
        b"length": 2 * PIECE + 100,
        b"pieces": hashes(3),
    }
    return _changed(info, changes)


def multi_info(entries: list[tuple[list[bytes], int]], **changes: Any) -> dict[bytes, Any]:
    total = sum(length for _, length in entries)
    info: dict[bytes, Any] = {
        b"name": b"album",
        b"piece length": PIECE,
        b"pieces": hashes(-(-total // PIECE)),
        b"files": [{b"length": length, b"path": path} for path, length in entries],
    }
    return _changed(info, changes)


def _changed(info: dict[bytes, Any], changes: dict[str, Any]) -> dict[bytes, Any]:
    for key, value in changes.items():
        raw_key = key.replace("_", " ").encode()
        if value is None:
            info.pop(raw_key, None)
        else:
            info[raw_key] = value
    return info


def torrent(info: Any, **top: Any) -> bytes:
    return encode({b"info": info, **{key.replace("_", " ").encode(): v for key, v in top.items()}})


def files_of(*paths: list[bytes]) -> bytes:
    return torrent(multi_info([(path, 10) for path in paths]))


# --- layout --------------------------------------------------------------------------


def test_single_file_layout() -> None:
    info = single_info()
    meta = parse_metainfo(torrent(info, announce=b"udp://127.0.0.1:6969/announce"))
    assert meta.info_hash == hashlib.sha1(encode(info)).digest()
    assert meta.info_hash_hex == meta.info_hash.hex()
    assert meta.raw_info == encode(info)
    assert meta.name == "movie.mkv"
    assert meta.files == (FileEntry(("movie.mkv",), 2 * PIECE + 100, 0),)
    assert not meta.multi_file
    assert meta.total_length == 2 * PIECE + 100
    assert meta.num_pieces == 3
    assert [meta.piece_size(i) for i in range(3)] == [PIECE, PIECE, 100]
    assert meta.piece_hash(2) == hashlib.sha1(bytes([2])).digest()
    assert meta.trackers == (("udp://127.0.0.1:6969/announce",),)


def test_piece_accessors_check_the_index() -> None:
    meta = parse_metainfo(torrent(single_info()))
    for index in (-1, 3):
        with pytest.raises(IndexError):
            meta.piece_size(index)
        with pytest.raises(IndexError):
            meta.piece_hash(index)


def test_last_piece_may_be_exactly_full() -> None:
    meta = parse_metainfo(torrent(single_info(length=2 * PIECE, pieces=hashes(2))))
    assert [meta.piece_size(i) for i in range(2)] == [PIECE, PIECE]


def test_multi_file_layout_puts_the_name_first_and_counts_offsets() -> None:
    info = multi_info([([b"cd1", b"01.flac"], 20000), ([b"empty"], 0), ([b"cover.jpg"], 15000)])
    meta = parse_metainfo(torrent(info))
    assert meta.multi_file
    assert meta.files == (
        FileEntry(("album", "cd1", "01.flac"), 20000, 0),
        FileEntry(("album", "empty"), 0, 20000),
        FileEntry(("album", "cover.jpg"), 15000, 20000),
    )
    assert meta.total_length == 35000
    assert meta.num_pieces == 3
    assert meta.piece_size(2) == 35000 - 2 * PIECE


def test_unsorted_info_keys_hash_the_exact_bytes() -> None:
    raw_info = b"d4:name4:test12:piece lengthi16384e6:pieces20:" + hashes(1) + b"6:lengthi5ee"
    data = b"d8:announce30:http://127.0.0.1:8000/announce4:info" + raw_info + b"e"
    meta = parse_metainfo(data)
    assert meta.raw_info == raw_info
    assert meta.info_hash == hashlib.sha1(raw_info).digest()
    sorted_info = {b"name": b"test", b"piece length": PIECE, b"pieces": hashes(1), b"length": 5}
    assert meta.info_hash != hashlib.sha1(encode(sorted_info)).digest()
    assert str(lt.torrent_info(data).info_hashes().v1) == meta.info_hash_hex


def test_libtorrent_fixture_with_pad_files() -> None:
    # libtorrent's hybrid torrents align files to pieces with BEP 47 pad files.
    meta = load_metainfo(FIXTURES / "hybrid.torrent")
    info = lt.torrent_info(str(FIXTURES / "hybrid.torrent"))
    assert meta.info_hash_hex == str(info.info_hashes().v1)
    assert meta.total_length == info.total_size()
    assert meta.num_pieces == info.num_pieces()
    storage = info.layout()
    assert [(f.offset, f.length, f.padding) for f in meta.files] == [
        (
            storage.file_offset(i),
            storage.file_size(i),
            bool(storage.file_flags(i) & storage.flag_pad_file),
        )
        for i in range(storage.num_files())
    ]
    assert [f.path for f in meta.files if not f.padding] == [
        ("sample", "alpha.bin"),
        ("sample", "docs", "readme.txt"),
        ("sample", "zeta.dat"),
    ]
    assert meta.trackers == (
        ("udp://127.0.0.1:6969/announce",),
        ("http://127.0.0.1:8000/announce",),
    )
    assert (meta.comment, meta.created_by, meta.creation_date) == (
        "test fixture",
        "libtorrent fixture",
        1700000000,
    )


def test_libtorrent_v1_fixture() -> None:
    meta = load_metainfo(FIXTURES / "v1_multi.torrent")
    info = lt.torrent_info(str(FIXTURES / "v1_multi.torrent"))
    assert meta.info_hash_hex == str(info.info_hashes().v1)
    assert [meta.piece_hash(i) for i in range(meta.num_pieces)] == [
        info.hash_for_piece(i) for i in range(info.num_pieces())
    ]
    assert not any(f.padding for f in meta.files)


def test_parse_info_alone_for_magnet_links() -> None:
    raw_info = encode(single_info(private=1))
    meta = parse_info(raw_info, trackers=[["udp://127.0.0.1:1/a", "wss://x"], []])
    assert meta.info_hash == hashlib.sha1(raw_info).digest()
    assert meta.private
    assert meta.trackers == (("udp://127.0.0.1:1/a",),)
    assert meta.comment == ""


def test_parse_info_accepts_unsorted_keys_anywhere() -> None:
    raw_info = (
        b"d4:name1:x5:filesld4:pathl1:ae6:lengthi3eee12:piece lengthi16384e"
        b"6:pieces20:" + hashes(1) + b"e"
    )
    meta = parse_info(raw_info)
    assert meta.files == (FileEntry(("x", "a"), 3, 0),)
    assert meta.info_hash == hashlib.sha1(raw_info).digest()


# --- rejections ----------------------------------------------------------------------

REJECTIONS = [
    (encode([b"info"]), "the torrent is not a bencoded dictionary"),
    (encode({b"announce": b"x"}), "the torrent has no 'info' dictionary"),
    (torrent(b"info"), "'info' must be a dictionary"),
    (torrent(single_info(name=None)), "'name' must be a byte string"),
    (torrent(single_info(name=5)), "'name' must be a byte string"),
    (torrent(single_info(piece_length=None)), "'piece length' must be a positive integer"),
    (torrent(single_info(piece_length=0)), "'piece length' must be a positive integer"),
    (torrent(single_info(piece_length=b"16")), "'piece length' must be a positive integer"),
    (
        torrent(single_info(piece_length=2**28)),
        "'piece length' of 268435456 bytes is larger than 128 MiB",
    ),
    (
        torrent(single_info(pieces=b"x" * 21)),
        "'pieces' must be a byte string whose length is a multiple of 20",
    ),
    (
        torrent(single_info(pieces=None)),
        "'pieces' must be a byte string whose length is a multiple of 20",
    ),
    (
        torrent(single_info(pieces=None, file_tree={})),
        "'file tree' needs 'meta version' 2 (BEP 52)",
    ),
    (torrent(single_info(pieces=hashes(2))), "'pieces' holds 2 hashes but the files need 3"),
    (torrent(single_info(pieces=hashes(4))), "'pieces' holds 4 hashes but the files need 3"),
    (torrent(single_info(length=None)), "'length' must be a non-negative integer"),
    (torrent(single_info(length=-1)), "'length' must be a non-negative integer"),
    (torrent(single_info(length=0, pieces=b"")), "the torrent contains no data"),
    (torrent(single_info(length=2**50 + 1)), "the total size is larger than 1 PiB"),
    (torrent(single_info(files=[])), "'info' has both 'length' and 'files'"),
    (torrent(multi_info([], files=[])), "'files' must be a non-empty list"),
    (torrent(multi_info([], files=b"x")), "'files' must be a non-empty list"),
    (torrent(multi_info([], files=[b"x"])), "file 1 in 'files' is not a dictionary"),
    (
        torrent(multi_info([([b"a"], 1)], files=[{b"path": [b"a"], b"length": 1}, {}])),
        "file 2: 'length' must be a non-negative integer",
    ),
    (
        torrent(multi_info([([b"a"], 1)], files=[{b"path": [], b"length": 1}])),
        "file 1: 'path' must be a non-empty list of byte strings",
    ),
    (
        torrent(multi_info([([b"a"], 1)], files=[{b"path": [b"a", 1], b"length": 1}])),
        "file 1: 'path' must be a non-empty list of byte strings",
    ),
    (b"d4:infoi1e", "data ends early at byte 10"),
]


@pytest.mark.parametrize(("data", "message"), REJECTIONS)
def test_rejections(data: bytes, message: str) -> None:
    with pytest.raises(MetainfoError) as caught:
        parse_metainfo(data)
    assert str(caught.value) == message


def test_bencode_faults_keep_their_offset() -> None:
    with pytest.raises(BencodeError, match="dictionary key out of order at byte 9"):
        parse_metainfo(b"d4:infode8:announce1:ue")


# --- paths ---------------------------------------------------------------------------

SAFE_COMPONENTS = [
    ("plain.txt", "plain.txt"),
    ("Ünïcødé 日本.mkv", "Ünïcødé 日本.mkv"),
    (".hidden", ".hidden"),
    ("...", "_"),
    ("a:b", "a_b"),
    ('q"u<o>t|e?s*', "q_u_o_t_e_s_"),
    ("tab\there\x00nul\x7f", "tab_here_nul_"),
    ("back\\slash", "back_slash"),
    ("slash/inside", "slash_inside"),
    ("trailing. . ", "trailing"),
    (" ", "_"),
    ("CON", "CON_"),
    ("con.txt", "con_.txt"),
    ("Nul.tar.gz", "Nul_.tar.gz"),
    ("COM1", "COM1_"),
    ("lpt9.log", "lpt9_.log"),
    ("COM10", "COM10"),
    ("console", "console"),
    ("aux.", "aux_"),
    ("x" * 300 + ".mkv", "x" * 251 + ".mkv"),
    ("é" * 200, "é" * 127),
    ("y" * 260 + "." + "z" * 40, ("y" * 260 + "." + "z" * 40)[:255]),
]


@pytest.mark.parametrize(("component", "expected"), SAFE_COMPONENTS)
def test_cosmetic_problems_are_made_safe(component: str, expected: str) -> None:
    assert safe_component(component) == expected
    assert len(safe_component(component).encode()) <= 255


def test_sanitized_paths_reach_the_file_entries() -> None:
    meta = parse_metainfo(files_of([b"CON", b"ab:c.txt "]))
    assert meta.files[0].path == ("album", "CON_", "ab_c.txt")


TRAVERSALS = [
    ([b".."], "'..' would lead outside the download folder"),
    ([b"a", b"..", b"b"], "'..' would lead outside the download folder"),
    ([b"a/../../etc"], "'..' would lead outside the download folder"),
    ([b"..\\windows"], "'..' would lead outside the download folder"),
    ([b"/etc", b"passwd"], "it is absolute"),
    ([b"\\\\server\\share"], "it is absolute"),
    ([b"C:", b"x"], "it names a drive"),
    ([b"c:evil"], "it names a drive"),
    ([b"a", b"", b"b"], "it has an empty or '.' component"),
    ([b"."], "it has an empty or '.' component"),
]


@pytest.mark.parametrize(("path", "reason"), TRAVERSALS)
def test_escaping_paths_are_refused(path: list[bytes], reason: str) -> None:
    with pytest.raises(MetainfoError) as caught:
        parse_metainfo(files_of(path))
    shown = "/".join(part.decode() for part in path)
    assert str(caught.value) == f"the file path '{shown}' is unsafe: {reason}"


@pytest.mark.parametrize("name", [b"..", b"/", b"", b"D:\\x"])
def test_the_name_obeys_the_same_rule(name: bytes) -> None:
    with pytest.raises(MetainfoError, match="is unsafe"):
        parse_metainfo(torrent(single_info(name=name)))


def test_no_path_can_leave_the_save_folder(tmp_path: Path) -> None:
    hostile = [
        [b"..."],
        [b"x\x00/y"],
        [b"AUX"],
        [b"dir. "],
        [b"\x1b[31m"],
        [b"~"],
        [b"$HOME"],
    ]
    meta = parse_metainfo(files_of(*hostile))
    for entry in meta.files:
        resolved = (tmp_path / Path(*entry.path)).resolve()
        assert resolved.is_relative_to(tmp_path.resolve())
        assert all(part not in ("", ".", "..") for part in entry.path)


@pytest.mark.parametrize(
    ("paths", "message"),
    [
        ([[b"a"], [b"a"]], "two files map to the same path 'album/a'"),
        ([[b"Readme"], [b"README"]], "two files map to the same path 'album/README'"),
        ([[b"CON"], [b"con_"]], "two files map to the same path 'album/con_'"),
        ([[b"xy:z"], [b"xy|z"]], "two files map to the same path 'album/xy_z'"),
        ([[b"dir"], [b"DIR", b"f"]], "'album/dir' is both a file and a folder"),
        ([[b"d", b"e", b"f"], [b"d", b"e"]], "'album/d/e' is both a file and a folder"),
    ],
)
def test_colliding_paths_are_refused(paths: list[list[bytes]], message: str) -> None:
    with pytest.raises(MetainfoError) as caught:
        parse_metainfo(files_of(*paths))
    assert str(caught.value) == message


def test_pad_files_may_share_a_path() -> None:
    pad = {b"attr": b"p", b"length": 10, b"path": [b".pad", b"10"]}
    info = multi_info([([b"a"], 10), ([b"b"], 10), ([b"c"], 10)])
    info[b"files"] = [info[b"files"][0], pad, info[b"files"][1], pad, info[b"files"][2]]
    info[b"pieces"] = hashes(1)
    meta = parse_metainfo(torrent(info))
    assert [(f.path[-1], f.offset, f.padding) for f in meta.files] == [
        ("a", 0, False),
        ("10", 10, True),
        ("b", 20, False),
        ("10", 30, True),
        ("c", 40, False),
    ]


# --- text fields ---------------------------------------------------------------------


def test_utf8_variants_are_preferred_when_valid() -> None:
    info = multi_info([([b"\xe9t\xe9"], 10)])
    info[b"name.utf-8"] = "Été".encode()
    info[b"files"][0][b"path.utf-8"] = ["été".encode()]
    meta = parse_metainfo(torrent(info, comment=b"\xff", **{"comment.utf-8": "ça".encode()}))
    assert meta.name == "Été"
    assert meta.files[0].path == ("Été", "été")
    assert meta.comment == "ça"


def test_invalid_utf8_is_replaced() -> None:
    info = multi_info([([b"\xe9t\xe9"], 10)], name=b"bad\xff")
    info[b"files"][0][b"path.utf-8"] = [b"\xff"]  # invalid: ignored, 'path' is used
    meta = parse_metainfo(torrent(info, created_by=b"me\xfe"))
    assert meta.name == "bad\ufffd"
    assert meta.files[0].path == ("bad\ufffd", "\ufffdt\ufffd")
    assert meta.created_by == "me\ufffd"


def test_optional_fields_of_the_wrong_type_are_ignored() -> None:
    data = torrent(
        single_info(),
        comment=5,
        created_by=[b"x"],
        creation_date=b"today",
        announce=1,
        announce_list=b"x",
        url_list=3,
    )
    data = data.replace(b"13:announce list", b"13:announce-list").replace(
        b"8:url list", b"8:url-list"
    )
    meta = parse_metainfo(data)
    assert (meta.comment, meta.created_by, meta.creation_date) == ("", "", None)
    assert (meta.trackers, meta.url_list) == ((), ())


def test_private_flag() -> None:
    assert parse_metainfo(torrent(single_info(private=1))).private
    assert not parse_metainfo(torrent(single_info(private=0))).private
    assert not parse_metainfo(torrent(single_info())).private


# --- trackers and web seeds ----------------------------------------------------------


def with_lists(announce: bytes | None, announce_list: Any, url_list: Any = None) -> bytes:
    top: dict[bytes, Any] = {b"info": single_info()}
    if announce is not None:
        top[b"announce"] = announce
    if announce_list is not None:
        top[b"announce-list"] = announce_list
    if url_list is not None:
        top[b"url-list"] = url_list
    return encode(top)


def test_announce_list_tiers_win_over_announce() -> None:
    data = with_lists(
        b"http://127.0.0.1/first",
        [
            [b"udp://127.0.0.1:1/a", b"http://127.0.0.1:2/b"],
            [b"wss://127.0.0.1/c", b"dht://x", b"  https://127.0.0.1/d  "],
            [b"udp://127.0.0.1:1/a"],
            [b"ftp://127.0.0.1/e"],
        ],
    )
    assert parse_metainfo(data).trackers == (
        ("udp://127.0.0.1:1/a", "http://127.0.0.1:2/b"),
        ("https://127.0.0.1/d",),
    )


def test_announce_is_used_without_a_usable_announce_list() -> None:
    data = with_lists(b"udp://127.0.0.1:6969", [[b"wss://127.0.0.1/"], [3]])
    assert parse_metainfo(data).trackers == (("udp://127.0.0.1:6969",),)


def test_no_trackers() -> None:
    assert parse_metainfo(with_lists(None, None)).trackers == ()
    assert parse_metainfo(with_lists(b"magnet:?xt=x", None)).trackers == ()
    assert parse_metainfo(with_lists(b"http://[::1", None)).trackers == ()


def test_web_seeds_one_or_many() -> None:
    one = with_lists(None, None, b"http://127.0.0.1/files/")
    many = with_lists(
        None, None, [b"https://127.0.0.1/a", b"ftp://127.0.0.1/b", b"https://127.0.0.1/a", 4]
    )
    assert parse_metainfo(one).url_list == ("http://127.0.0.1/files/",)
    assert parse_metainfo(many).url_list == ("https://127.0.0.1/a",)


# --- loading files -------------------------------------------------------------------


def test_load_missing_file(tmp_path: Path) -> None:
    with pytest.raises(MetainfoError) as caught:
        load_metainfo(tmp_path / "gone.torrent")
    assert str(caught.value) == "gone.torrent: no such file or directory"


def test_load_a_folder(tmp_path: Path) -> None:
    folder = tmp_path / "folder.torrent"
    folder.mkdir()
    with pytest.raises(MetainfoError, match=r"^folder.torrent: is a directory$"):
        load_metainfo(folder)


def test_load_under_a_file_gives_the_os_reason(tmp_path: Path) -> None:
    (tmp_path / "plain").write_bytes(b"")
    with pytest.raises(MetainfoError, match=r"^x.torrent: not a directory$"):
        load_metainfo(tmp_path / "plain" / "x.torrent")


def test_load_names_the_file_in_parse_errors(tmp_path: Path) -> None:
    path = tmp_path / "broken.torrent"
    path.write_bytes(b"d4:infoi03ee")
    with pytest.raises(MetainfoError) as caught:
        load_metainfo(path)
    assert str(caught.value) == "broken.torrent: bad integer at byte 7"


def test_load_refuses_huge_files(tmp_path: Path) -> None:
    path = tmp_path / "huge.torrent"
    with path.open("wb") as stream:
        stream.truncate(64 * 1024 * 1024 + 1)
    with pytest.raises(MetainfoError, match=r"^huge.torrent: the file is too large"):
        load_metainfo(path)


def test_load_accepts_str_paths() -> None:
    assert load_metainfo(str(FIXTURES / "v1_multi.torrent")).name == "sample"
