"""A believable AWS organisation on moto, for `auditor demo`, the tests and the benchmarks."""

from auditor.sandbox.server import Planted, PortUnavailable, Sandbox, serve, start_sandbox

__all__ = ["Planted", "PortUnavailable", "Sandbox", "serve", "start_sandbox"]
