"""The local lab: the platform's Ansible roles on systemd-nspawn hosts, on one machine (`maestro lab ...`).

Everything the lab creates lives under `.lab/` (images, overlays, keys, secrets, endpoints), on the bridge
`maestro0` with the subnet 10.77.41.0/24, and in the nftables table `inet maestro_lab`. `down` removes the hosts,
mounts, bridge and NAT table and restores `net.ipv4.ip_forward`; it touches nothing else. Every phase of `up` is
idempotent, so an interrupted or failed `up` is repaired by running it again.

- commands.py     `maestro lab up|down|status|start-host|stop-host|wheelhouses`: the phases in order
- topology.py     the hosts and their groups, the network and the names, where the lab's files live
- system.py       commands, phases, waiting, detached processes and mounts on the outer machine
- image.py        the base image (debootstrap + the platform's packages), built once and cached
- wheelhouses.py  MLflow's and the API's wheels, built on the outer machine and installed offline
- network.py      the bridge, NAT and IP forwarding
- pki.py          the lab CA, the S3 certificate, the SSH key and the random secrets
- nspawn.py       one host's life: overlay root, boot, SSH, stop
- s3.py           the S3 endpoint (moto behind TLS, as pgBackRest needs it)
- inventory.py    the generated Ansible inventory
- endpoints.py    the first tenant and the endpoints `up` prints
- failover.py     failover under load: crash the leader's host while writing, measure (tests/lab, bench)
- drill.py        the restore drill: whole-cluster loss, `maestro drill`, `maestro restore` (tests/lab, bench)
"""
