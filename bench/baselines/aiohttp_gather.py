"""The tutorial's own approach: one aiohttp.ClientSession, one task per id, asyncio.gather.

Run by the bench as a whole process with Debian's python3-aiohttp (/usr/bin/python3), against the
same simulator as pokequeue. aiohttp asks for gzip and decompresses by itself; resp.json() parses.
The session keeps aiohttp's defaults, as the tutorial does (TCPConnector limit=100 connections).
Prints {"ok": N, "failed": N, "ms": T}, T from first request to last body parsed.

usage: /usr/bin/python3 bench/baselines/aiohttp_gather.py <apiBaseUrl> <firstId> <lastId>
"""
import asyncio
import json
import sys
import time

import aiohttp


async def fetch(session, base_url, pokemon_id):
    async with session.get(f"{base_url}/pokemon/{pokemon_id}/") as resp:
        if resp.status != 200:
            await resp.read()
            return None
        data = await resp.json()
        return data["name"]


async def main(base_url, first, last):
    started = time.perf_counter()
    async with aiohttp.ClientSession() as session:
        tasks = [fetch(session, base_url, i) for i in range(first, last + 1)]
        names = await asyncio.gather(*tasks)
    ms = (time.perf_counter() - started) * 1000
    ok = sum(1 for n in names if n is not None)
    print(json.dumps({"ok": ok, "failed": len(names) - ok, "ms": round(ms)}))


if __name__ == "__main__":
    if len(sys.argv) != 4:
        sys.exit("usage: aiohttp_gather.py <apiBaseUrl> <firstId> <lastId>")
    asyncio.run(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3])))
