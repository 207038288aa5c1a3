"""PostgreSQL databases of their own for a benchmark or soak run, created and dropped on the
server they are given."""

from __future__ import annotations

import asyncio
import uuid
from urllib.parse import urlsplit, urlunsplit


def with_database(url: str, name: str) -> str:
    """`url` naming database `name`."""
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


async def _admin(server_url: str, statement: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(with_database(server_url, "postgres"), timeout=10)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def create_database(server_url: str, prefix: str) -> str:
    """A new empty database named `<prefix>_<random>`; its name. Raises OSError or TimeoutError
    when the server cannot be reached."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    asyncio.run(_admin(server_url, f'CREATE DATABASE "{name}"'))
    return name


def drop_database(server_url: str, name: str) -> None:
    asyncio.run(_admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
