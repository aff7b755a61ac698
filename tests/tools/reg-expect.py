#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""What a containerd-compatible pull of an image must leave, computed from the registry itself.

  reg-expect.py labels URL REPO TAG [SNAPSHOTTER] [OS/ARCH]
      the content labels containerd 1.6 sets after pulling and unpacking URL/REPO:TAG
      (registry-cni.md A4), as sorted "<digest> <key>=<value>" lines: index children
      (gc.ref.content.m.<i>, all platforms), manifest -> config and layers
      (gc.ref.content.config, gc.ref.content.l.<i>), layers -> containerd.io/uncompressed,
      config -> gc.ref.snapshot.<snapshotter> (top chain ID), and
      containerd.io/distribution.source.<host without port> = REPO on every fetched blob.
      With an index only the OS/ARCH child (default linux/<dpkg arch>) is followed.
  reg-expect.py chains URL REPO TAG [OS/ARCH]     the layers' chain IDs, bottom first
  reg-expect.py digest URL REPO TAG               the digest the tag resolves to

Authenticates like a registry client when challenged: Bearer (anonymous GET to the realm) or
Basic ($REG_USER/$REG_PASS). TLS is not verified (the test registries use self-signed
certificates). Requests carry User-Agent berth-test-harness, so the access-log counts of the
tests can leave them out.
"""
import base64
import hashlib
import json
import os
import re
import ssl
import subprocess
import sys
import urllib.parse
import urllib.request

ACCEPT = ("application/vnd.docker.distribution.manifest.v2+json, "
          "application/vnd.docker.distribution.manifest.list.v2+json, "
          "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json, */*")
CTX = ssl._create_unverified_context()
AUTH = {}


def request(url, method="GET", auth=None):
    h = {"Accept": ACCEPT, "User-Agent": "berth-test-harness"}
    if auth:
        h["Authorization"] = auth
    return urllib.request.urlopen(urllib.request.Request(url, headers=h, method=method),
                                  context=CTX)


def challenge_auth(hdr):
    if hdr.startswith("Basic"):
        cred = "%s:%s" % (os.environ.get("REG_USER", ""), os.environ.get("REG_PASS", ""))
        return "Basic " + base64.b64encode(cred.encode()).decode()
    params = dict(re.findall(r'(\w+)="([^"]*)"', hdr))
    q = {k: params[k] for k in ("service", "scope") if k in params}
    with request(params["realm"] + "?" + urllib.parse.urlencode(q)) as r:
        tok = json.loads(r.read())
    return "Bearer " + (tok.get("access_token") or tok["token"])


def get(url, method="GET"):
    try:
        with request(url, method, AUTH.get("h")) as r:
            return r.read(), r.headers
    except urllib.error.HTTPError as e:
        if e.code != 401 or "h" in AUTH:
            raise
        AUTH["h"] = challenge_auth(e.headers.get("WWW-Authenticate", ""))
        with request(url, method, AUTH["h"]) as r:
            return r.read(), r.headers


def host_arch():
    return subprocess.check_output(["dpkg", "--print-architecture"]).decode().strip()


def resolve(url, repo, tag, plat):
    """-> (top digest, top json, [(index digest, index json)], manifest digest, manifest json)"""
    data, hdrs = get("%s/v2/%s/manifests/%s" % (url, repo, tag))
    top = hdrs.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(data).hexdigest()
    m = json.loads(data)
    index = None
    mdg = top
    if "manifests" in m:
        index = m
        want = plat or "linux/" + host_arch()
        mdg = None
        for c in m["manifests"]:
            p = c.get("platform", {})
            if "%s/%s" % (p.get("os"), p.get("architecture")) == want:
                mdg = c["digest"]
                break
        if mdg is None:
            sys.exit("no %s manifest in %s" % (want, top))
        m = json.loads(get("%s/v2/%s/manifests/%s" % (url, repo, mdg))[0])
    cfg = json.loads(get("%s/v2/%s/blobs/%s" % (url, repo, m["config"]["digest"]))[0])
    return top, index, mdg, m, cfg


def chains(cfg):
    out, chain = [], None
    for d in cfg["rootfs"]["diff_ids"]:
        chain = d if chain is None else "sha256:" + hashlib.sha256(
            ("%s %s" % (chain, d)).encode()).hexdigest()
        out.append(chain)
    return out


def main():
    cmd, url, repo, tag = sys.argv[1:5]
    extra = sys.argv[5:]
    if cmd == "digest":
        print(resolve(url, repo, tag, None)[0])
        return
    if cmd == "chains":
        print("\n".join(chains(resolve(url, repo, tag, extra[0] if extra else None)[4])))
        return
    sn = extra[0] if extra and extra[0] else "overlayfs"
    plat = extra[1] if len(extra) > 1 else None
    top, index, mdg, m, cfg = resolve(url, repo, tag, plat)
    host = urllib.parse.urlsplit(url).hostname
    src = "containerd.io/distribution.source." + host
    out = []
    if index is not None:
        out.append((top, src, repo))
        for i, c in enumerate(index["manifests"]):
            out.append((top, "containerd.io/gc.ref.content.m.%d" % i, c["digest"]))
    out.append((mdg, src, repo))
    out.append((mdg, "containerd.io/gc.ref.content.config", m["config"]["digest"]))
    for i, l in enumerate(m["layers"]):
        out.append((mdg, "containerd.io/gc.ref.content.l.%d" % i, l["digest"]))
        out.append((l["digest"], src, repo))
        out.append((l["digest"], "containerd.io/uncompressed", cfg["rootfs"]["diff_ids"][i]))
    out.append((m["config"]["digest"], src, repo))
    out.append((m["config"]["digest"], "containerd.io/gc.ref.snapshot." + sn, chains(cfg)[-1]))
    print("\n".join(sorted("%s %s=%s" % t for t in out)))


if __name__ == "__main__":
    main()
