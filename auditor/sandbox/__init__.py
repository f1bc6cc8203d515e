"""A believable AWS organisation on moto, for `auditor demo`, the tests and the benchmarks."""

from auditor.sandbox.server import Planted, Sandbox, serve, start_sandbox

__all__ = ["Planted", "Sandbox", "serve", "start_sandbox"]
