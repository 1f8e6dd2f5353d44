#!/usr/bin/python3
"""A TCP relay for the multinode URL test: the fixture server (tests/support/http_fixture.cpp)
binds loopback only, so on the cluster's head host this relay listens on head's addresses and
carries every connection, unchanged and one for one, to the fixture on head's loopback. The
fixture still counts requests in flight per Host header; the relay records which client address
(which node) each connection came from.

  tcp_relay.py --listen ADDR[,ADDR...] --port N --to HOST:PORT --stats FILE.json

Prints READY once listening; writes the stats file on every new connection and at exit
(SIGTERM/SIGINT): {"connections_by_client": {ip: n}, "connections_by_listen": {addr: n}}.
"""
import argparse
import asyncio
import json
import signal


async def pipe(reader, writer):
    try:
        while data := await reader.read(65536):
            writer.write(data)
            await writer.drain()
    except (ConnectionError, asyncio.CancelledError):
        pass
    finally:
        try:
            writer.close()
        except Exception:  # noqa: BLE001 - closing a broken socket
            pass


async def main():
    p = argparse.ArgumentParser()
    p.add_argument("--listen", required=True)
    p.add_argument("--port", type=int, required=True)
    p.add_argument("--to", required=True)
    p.add_argument("--stats", required=True)
    a = p.parse_args()
    to_host, to_port = a.to.rsplit(":", 1)
    by_client, by_listen = {}, {}

    def save():
        with open(a.stats, "w") as f:
            json.dump({"connections_by_client": by_client, "connections_by_listen": by_listen}, f)

    def handler(listen_addr):
        async def handle(reader, writer):
            client = writer.get_extra_info("peername")[0]
            by_client[client] = by_client.get(client, 0) + 1
            by_listen[listen_addr] = by_listen.get(listen_addr, 0) + 1
            save()
            try:
                up_reader, up_writer = await asyncio.open_connection(to_host, int(to_port))
            except OSError:
                writer.close()
                return
            await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        return handle

    servers = [await asyncio.start_server(handler(addr), addr, a.port, backlog=1024)
               for addr in a.listen.split(",")]
    save()
    print("READY", a.port, flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    for s in servers:
        s.close()
    save()


if __name__ == "__main__":
    asyncio.run(main())
