"""Fetch a file from an ordered list of mirrors, verifying its size and md5."""

from __future__ import annotations

import hashlib
import http.client
import logging
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from mnist_filters.atomic import write_bytes_atomic
from mnist_filters.errors import DownloadError

log = logging.getLogger(__name__)

USER_AGENT = "mnist-filters (+reproducible workflow)"


class _Permanent(Exception):
    """A failure that retrying the same mirror will not fix (404, checksum mismatch)."""


@dataclass(frozen=True)
class Expected:
    size: int
    md5: str


def _get(url: str, timeout: float) -> bytes:
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            declared = response.headers.get("Content-Length")
            body = response.read()
    except urllib.error.HTTPError as error:
        reason = f"HTTP {error.code} {error.reason}"
        if 400 <= error.code < 500 or 300 <= error.code < 400:
            raise _Permanent(reason) from None
        raise OSError(reason) from None
    except urllib.error.URLError as error:
        raise OSError(f"cannot connect ({error.reason})") from None
    except TimeoutError:
        raise OSError(f"timed out after {timeout:g} s without data") from None
    except http.client.IncompleteRead as error:
        raise OSError(
            f"truncated body: got {len(error.partial)} bytes, {error.expected} more expected"
        ) from None
    except http.client.HTTPException as error:
        raise OSError(f"broken HTTP response ({type(error).__name__}: {error})") from None
    if declared is not None and int(declared) != len(body):
        raise OSError(f"truncated body: got {len(body)} of {declared} bytes")
    return body


def _verify(body: bytes, expected: Expected | None) -> None:
    if expected is None:
        return
    if len(body) != expected.size:
        raise _Permanent(f"size {len(body)} bytes, expected {expected.size}")
    md5 = hashlib.md5(body).hexdigest()
    if md5 != expected.md5:
        raise _Permanent(f"md5 {md5}, expected {expected.md5}")


def download(
    name: str,
    mirrors: list[str],
    destination: str | Path,
    *,
    timeout: float = 30.0,
    retries: int = 3,
    retry_wait: float = 1.0,
    expected: Expected | None = None,
    local_dir_key: str = "data.local_dir",
) -> str:
    """Download `name` from the first mirror that serves it intact; return the URL used.
    `local_dir_key`: the setting that names a local copy instead, for the error's hint.

    Transient failures (timeouts, refused connections, 5xx, truncated bodies) are retried
    `retries` times per mirror; permanent ones (4xx, wrong size or md5) move on to the next.
    """
    if not mirrors:
        raise DownloadError(f"no mirrors configured for {name}")
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + name
        for attempt in range(1, retries + 1):
            try:
                body = _get(url, timeout)
                _verify(body, expected)
            except _Permanent as error:
                log.warning("%s: %s", url, error)
                failures.append(f"  {url}: {error}")
                break
            except OSError as error:
                log.warning("%s (attempt %d of %d): %s", url, attempt, retries, error)
                if attempt == retries:
                    failures.append(f"  {url}: {error} (tried {retries} times)")
                else:
                    time.sleep(retry_wait * attempt)
            else:
                write_bytes_atomic(destination, body)
                log.info("%s: %d bytes from %s", name, len(body), url)
                return url
    raise DownloadError(
        f"could not download {name} from any mirror:\n"
        + "\n".join(failures)
        + "\nTo run offline, put the data set's files (as the mirrors name them) in a folder "
        + "and set "
        + (
            "`data.local_dir` to it in config.yaml (or pass --config 'data={local_dir: "
            "/path/to/folder}')."
            if local_dir_key == "data.local_dir"
            else f"`{local_dir_key}` to it in config.yaml."
        )
    )
