"""The clamd client (infrastructure/virus_scan.py) against a real clamd with the test
signature database (tests/clamd_server.py): verdicts on clean and infected streams,
however they are cut into chunks, and a scanner that cannot give one is
ScannerUnavailable naming CASEWORK_CLAMD_ADDRESS (the upload is refused)."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path

import pytest

from infrastructure.embedded_postgres import free_port
from infrastructure.environment import EnvironmentProblem
from infrastructure.settings import Settings
from infrastructure.virus_scan import (
    CHUNK_BYTES,
    ClamdAddress,
    ScannerUnavailable,
    ScanVerdict,
    VirusScanner,
    parse_clamd_address,
    ping,
    scanner_for,
)
from tests.clamd_server import EICAR, SIGNATURE_NAME, ClamdProcess, start_clamd

MiB = 1024 * 1024


@pytest.fixture(scope="module", params=["unix", "tcp"])
def clamd(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ClamdProcess]:
    tcp = request.param == "tcp"
    with start_clamd(tmp_path_factory.mktemp(f"clamd-{request.param}"), tcp=tcp) as process:
        yield process


def unreachable(clamd: ClamdProcess) -> ClamdAddress:
    """An address of the same kind as `clamd`'s where nothing listens."""
    if clamd.socket_path is not None:
        return parse_clamd_address(f"unix:{clamd.socket_path}.missing")
    return ClamdAddress(host="127.0.0.1", port=free_port())


@pytest.fixture(scope="module")
def scanner(clamd: ClamdProcess) -> VirusScanner:
    return VirusScanner(parse_clamd_address(clamd.address))


async def scan(scanner: VirusScanner, *chunks: bytes) -> ScanVerdict:
    async with scanner.scan() as session:
        for chunk in chunks:
            await session.feed(chunk)
        return await session.verdict()


def pieces(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def assert_eicar_found(verdict: ScanVerdict) -> None:
    assert not verdict.clean
    assert verdict.signature is not None
    # clamd names signatures outside the official databases <name>.UNOFFICIAL.
    assert verdict.signature.removesuffix(".UNOFFICIAL") == SIGNATURE_NAME
    assert verdict.raw == f"stream: {verdict.signature} FOUND"


async def test_a_clean_file_is_clean(scanner: VirusScanner) -> None:
    verdict = await scan(scanner, b"Minutes of the case conference, 3 May.\n")
    assert verdict == ScanVerdict(clean=True, signature=None, raw="stream: OK")


async def test_an_empty_file_is_clean(scanner: VirusScanner) -> None:
    assert (await scan(scanner)).clean


async def test_the_eicar_test_file_is_found(scanner: VirusScanner) -> None:
    assert_eicar_found(await scan(scanner, EICAR))


async def test_eicar_fed_in_small_pieces_across_chunks_is_found(scanner: VirusScanner) -> None:
    # Each feed is a protocol chunk of its own: the signature spans thirteen of them.
    data = b"Some text before.\n" * 1000 + EICAR + b"\nand after.\n" * 100
    assert_eicar_found(await scan(scanner, *pieces(data, 5)))


async def test_eicar_across_the_split_of_a_large_feed_is_found(scanner: VirusScanner) -> None:
    # One feed larger than a protocol chunk goes in pieces of CHUNK_BYTES: EICAR straddles
    # the first boundary.
    data = b"A" * (CHUNK_BYTES - len(EICAR) // 2) + EICAR + b"B" * 1000
    assert_eicar_found(await scan(scanner, data))


async def test_an_empty_feed_does_not_end_the_stream(scanner: VirusScanner) -> None:
    # A zero-length chunk ends an INSTREAM: an empty feed must send nothing.
    assert_eicar_found(await scan(scanner, b"", b"prefix ", b"", EICAR, b""))


@pytest.mark.parametrize("feed_size", [64 * 1024, 3 * MiB + 17])
async def test_a_file_larger_than_a_protocol_chunk_is_clean(
    scanner: VirusScanner, feed_size: int
) -> None:
    data = random.Random(7).randbytes(3 * MiB + 17)
    async with scanner.scan() as session:
        for piece in pieces(data, feed_size):
            await session.feed(piece)
        verdict = await session.verdict()
        assert session.bytes_sent == len(data)
    assert verdict.clean, verdict.raw


async def test_a_session_gives_one_verdict(scanner: VirusScanner) -> None:
    async with scanner.scan() as session:
        await session.feed(b"hello")
        assert (await session.verdict()).clean
        with pytest.raises(RuntimeError, match="ended"):
            await session.feed(b"more")
        with pytest.raises(RuntimeError, match="ended"):
            await session.verdict()


async def test_sessions_run_side_by_side(scanner: VirusScanner) -> None:
    async with scanner.scan() as clean, scanner.scan() as infected:
        for i in range(20):
            await clean.feed(b"line %d\n" % i)
            await infected.feed(b"line %d\n" % i)
        await infected.feed(EICAR)
        assert_eicar_found(await infected.verdict())
        assert (await clean.verdict()).clean


async def test_ping(clamd: ClamdProcess) -> None:
    assert await ping(parse_clamd_address(clamd.address))
    assert not await ping(unreachable(clamd))


def assert_names_the_setting(problem: ScannerUnavailable) -> None:
    assert isinstance(problem, EnvironmentProblem)
    assert problem.setting == "CASEWORK_CLAMD_ADDRESS"
    assert "CASEWORK_CLAMD_ADDRESS" in str(problem)
    assert "\n" not in str(problem)


async def test_an_unreachable_daemon_is_scanner_unavailable(clamd: ClamdProcess) -> None:
    address = unreachable(clamd)
    with pytest.raises(ScannerUnavailable) as caught:
        await scan(VirusScanner(address), b"hello")
    assert str(address) in str(caught.value)
    assert "does not answer" in str(caught.value)
    assert_names_the_setting(caught.value)


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
async def test_a_stopped_daemon_is_scanner_unavailable(tmp_path: Path, tcp: bool) -> None:
    with start_clamd(tmp_path, tcp=tcp) as own:
        address = parse_clamd_address(own.address)
        assert (await scan(VirusScanner(address), b"hello")).clean
        # Stopped in the middle of a scan: the connection closes under the session.
        with pytest.raises(ScannerUnavailable) as mid_scan:
            async with VirusScanner(address).scan() as session:
                await session.feed(b"first part")
                own.stop()
                await session.feed(b"second part" * 1000)
                await session.verdict()
        assert_names_the_setting(mid_scan.value)
        # And gone: no connection at all.
        with pytest.raises(ScannerUnavailable) as gone:
            await scan(VirusScanner(address), b"hello")
        assert_names_the_setting(gone.value)
        assert not await ping(address)


@pytest.mark.parametrize("tcp", [False, True], ids=["unix", "tcp"])
async def test_a_stream_over_the_daemons_limit_is_refused(tmp_path: Path, tcp: bool) -> None:
    with start_clamd(tmp_path, stream_max_length="1M", tcp=tcp) as small:
        scanner = VirusScanner(parse_clamd_address(small.address))
        with pytest.raises(ScannerUnavailable) as caught:
            await scan(scanner, *pieces(b"x" * (3 * MiB), 64 * 1024))
        assert caught.value.reply is not None
        assert "size limit exceeded" in caught.value.reply
        assert "StreamMaxLength" in str(caught.value)
        assert_names_the_setting(caught.value)
        # Within the limit, the same daemon answers.
        assert (await scan(scanner, b"x" * 1000)).clean


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("unix:/run/clamav/clamd.ctl", ClamdAddress(path="/run/clamav/clamd.ctl")),
        ("  unix:/tmp/c.sock\n", ClamdAddress(path="/tmp/c.sock")),
        ("tcp:127.0.0.1:3310", ClamdAddress(host="127.0.0.1", port=3310)),
        ("clamav.internal:3310", ClamdAddress(host="clamav.internal", port=3310)),
        ("tcp:[::1]:3310", ClamdAddress(host="::1", port=3310)),
        ("[fd00::5]:1", ClamdAddress(host="fd00::5", port=1)),
        ("localhost:65535", ClamdAddress(host="localhost", port=65535)),
    ],
)
def test_parse_clamd_address(text: str, expected: ClamdAddress) -> None:
    assert parse_clamd_address(text) == expected
    assert parse_clamd_address(str(expected)) == expected


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("unix:", "not absolute"),
        ("unix:relative/clamd.sock", "not absolute"),
        ("unix:/" + "a" * 107, "at most 107"),
        ("/run/clamav/clamd.ctl", "unix:/run/clamav/clamd.ctl"),
        ("clamav.internal", "no host and port"),
        ("tcp:3310", "no host and port"),
        (":3310", "no host and port"),
        ("tcp::3310", "no host and port"),
        ("clamav.internal:", "port must be a number"),
        ("clamav.internal:0", "port must be a number"),
        ("clamav.internal:65536", "port must be a number"),
        ("clamav.internal:33a", "port must be a number"),
        ("clamav.internal:٣٣", "port must be a number"),
        ("::1:3310", "IPv6 host in brackets"),
        ("http://clamav.internal:3310", "is a URL"),
        ("user@clamav.internal:3310", "no valid host"),
        ("clam av:3310", "no valid host"),
    ],
)
def test_parse_clamd_address_refuses(text: str, problem: str) -> None:
    with pytest.raises(ValueError) as caught:
        parse_clamd_address(text)
    assert problem in str(caught.value)


def test_the_setting(clamd: ClamdProcess) -> None:
    assert Settings(CASEWORK_CLAMD_ADDRESS=None).clamd_address is None
    assert scanner_for(Settings(CASEWORK_CLAMD_ADDRESS=None)) is None
    assert scanner_for(Settings(CASEWORK_CLAMD_ADDRESS="")) is None
    found = scanner_for(Settings(CASEWORK_CLAMD_ADDRESS=clamd.address))
    assert found is not None and str(found.address) == clamd.address
    with pytest.raises(EnvironmentProblem) as caught:
        scanner_for(Settings(CASEWORK_CLAMD_ADDRESS="clamav.internal"))
    assert caught.value.setting == "CASEWORK_CLAMD_ADDRESS"
    assert "no host and port" in str(caught.value)
