#!/usr/bin/env python3
"""Read records from a kvpod pod over Thrift, from Python.

Generate the bindings from the IDL first (Debian: apt-get install thrift-compiler python3-thrift):

    thrift --gen py -out GEN_DIR thrift-idl/src/main/thrift/kvpod.thrift
    PYTHONPATH=GEN_DIR python3 kvpod_get.py --pod 127.0.0.1:17000 KEY [KEY ...]

Against pods that serve TLS, give the PEM files that 'bin/kvpod tls init --dir DIR' writes:

    ... kvpod_get.py --pod 127.0.0.1:17000 --ca DIR/ca.pem \
        --cert DIR/client-cert.pem --key DIR/client-key.pem KEY

Exit status: 0 if every key was found, 1 if any was missing, 2 on errors.
"""
import argparse
import ssl
import sys

from thrift.Thrift import TException
from thrift.protocol import TBinaryProtocol
from thrift.transport import TSocket, TSSLSocket, TTransport

from kvpod import KvPod
from kvpod.ttypes import KvPodException


def main():
    try:
        return run()
    except KvPodException as e:
        print("error %d: %s" % (e.code, e.message), file=sys.stderr)
    except TException as e:  # the connection failed, or the pod refused a call (e.g. UNAUTHENTICATED)
        print("error: %s" % e, file=sys.stderr)
    except (OSError, ssl.SSLError) as e:
        print("error: %s" % e, file=sys.stderr)
    return 2


def run():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--pod", required=True, help="host:port of any pod")
    ap.add_argument("--table", help="the table to read (default: the pod's default table)")
    ap.add_argument("--timeout-ms", type=int, default=5000)
    ap.add_argument("--ca", help="TLS: PEM file of the authority that signed the pods' certificates")
    ap.add_argument("--cert", help="TLS: PEM file of this client's certificate (pods that require one)")
    ap.add_argument("--key", help="TLS: PEM file of this client's private key")
    ap.add_argument("keys", nargs="+")
    args = ap.parse_args()

    host, port = args.pod.rsplit(":", 1)
    if args.ca:
        # TLS 1.2 or 1.3; the pod's certificate must be signed by --ca and name the host dialled
        context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=args.ca)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        if args.cert:
            context.load_cert_chain(args.cert, args.key)
        sock = TSSLSocket.TSSLSocket(host, int(port), ssl_context=context, server_hostname=host)
    else:
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
                found = client.getRecord(key, args.table)  # unlike get(), tells a record stored as {} from none
            except KvPodException as e:
                print("%s: error %d: %s" % (key, e.code, e.message), file=sys.stderr)
                return 2
            if found.found:
                record = found.record
                print("%s\t%s\tversion %d" % (key, dict(sorted(record.value.items())), record.version))
            else:
                print("%s\t(not found)" % key)
                missing += 1
        status = client.status(args.table)
        print("pod %d of %d serves table %s: %d layers, %d records"
              % (status.podId, status.pods, status.table, len(status.layers), status.layerRecords))
    finally:
        transport.close()
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
