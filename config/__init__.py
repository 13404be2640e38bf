"""The platform's shared data, read by both engines: the port map (ports.yaml) and the network matrix (network.yaml,
read by network.py)."""
