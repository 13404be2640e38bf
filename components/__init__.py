"""Pulumi component resources that assemble the Maestro platform."""
