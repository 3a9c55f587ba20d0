"""Agents: policies that turn an environment's observations into actions."""

from lemur.eval.agents.base import Agent

__all__ = ["Agent"]
