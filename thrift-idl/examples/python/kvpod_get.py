#!/usr/bin/env python3
"""Read records from a kvpod pod over Thrift, from Python.

Generate the bindings from the IDL first (Debian: apt-get install thrift-compiler python3-thrift):

    thrift --gen py -out GEN_DIR thrift-idl/src/main/thrift/kvpod.thrift
    PYTHONPATH=GEN_DIR python3 kvpod_get.py --pod 127.0.0.1:17000 KEY [KEY ...]

Exit status: 0 if every key was found, 1 if any was missing, 2 on errors.
"""
import argparse
import sys

from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TTransport

from kvpod import KvPod
from kvpod.ttypes import KvPodException


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pod", required=True, help="host:port of any pod")
    ap.add_argument("--timeout-ms", type=int, default=5000)
    ap.add_argument("keys", nargs="+")
    args = ap.parse_args()

    host, port = args.pod.rsplit(":", 1)
    sock = TSocket.TSocket(host, int(port))
    sock.setTimeout(args.timeout_ms)
    transport = TTransport.TFramedTransport(sock)  # pods speak framed binary Thrift
    client = KvPod.Client(TBinaryProtocol.TBinaryProtocol(transport))
    transport.open()
    missing = 0
    try:
        client.ping()
        for key in args.keys:
            try:
                found = client.getRecord(key)  # unlike get(), tells a record stored as {} from none
            except KvPodException as e:
                print("%s: error %d: %s" % (key, e.code, e.message), file=sys.stderr)
                return 2
            if found.found:
                record = found.record
                print("%s\t%s\tversion %d" % (key, dict(sorted(record.value.items())), record.version))
            else:
                print("%s\t(not found)" % key)
                missing += 1
        status = client.status()
        print("pod %d of %d serves table %s: %d layers, %d records"
              % (status.podId, status.pods, status.table, len(status.layers), status.layerRecords))
    finally:
        transport.close()
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
