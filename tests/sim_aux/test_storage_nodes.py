"""The sim's storage nodes: SSH hosts with a cinder-volume log, loopback only."""

from __future__ import annotations

from pathlib import Path

import yaml

from sim.hosts.shell import execute
from sim.region.statedir import CLOSED_PORT
from sim.testing import start_region

SCENARIO = """
name: storage-nodes
description: a storage node that refuses SSH, and a backend on no host of the region
mode: saas
hosts:
  cmp-a-01: {}
  storage-01: {cinder_volume: true, ssh_open: false}
  storage-02: {cinder_volume: true}
flavors: [{name: m1.small}]
servers:
  - name: app
    flavor: m1.small
    host: cmp-a-01
    volumes:
      - {name: a, backend_host: "storage-01@lvm#LVM"}
      - {name: b, backend_host: "storage-02@lvm#LVM"}
      - {name: c, backend_host: "elsewhere@ceph#rbd"}
"""
PCD_LOG = "/var/log/pf9/cindervolume-base.log"


async def test_every_storage_node_is_loopback_and_closed_ones_refuse(
    tmp_path: Path,
) -> None:
    """storage-01 runs without an SSH server; a backend on no host still maps to 127.0.0.1."""
    scenario = tmp_path / "storage-nodes.yaml"
    scenario.write_text(SCENARIO)
    async with start_region(scenario, tmp_path) as region:
        config = yaml.safe_load(region.paths["config"].read_text())  # type: ignore[attr-defined]
        endpoints = dict(region.ssh_endpoints)
        state = region.state
    hosts = config["ssh"]["hosts"]
    assert set(hosts) == {"cmp-a-01", "storage-01", "storage-02", "elsewhere"}
    assert all(h["address"] == "127.0.0.1" for h in hosts.values())
    assert hosts["storage-01"]["port"] == CLOSED_PORT
    assert hosts["elsewhere"]["port"] == CLOSED_PORT
    assert "storage-01" not in endpoints
    assert hosts["storage-02"]["port"] == endpoints["storage-02"][0]
    # the storage role's log exists (empty): grep finds nothing rather than no file
    found = execute(state, "storage-02", f"grep -a -H -n -F -e x -- {PCD_LOG}")
    assert (found.code, found.err) == (1, "")
    missing = execute(state, "cmp-a-01", f"grep -a -H -n -F -e x -- {PCD_LOG}")
    assert missing.code == 2
    assert "No such file or directory" in missing.err
