"""Fakes for services that cannot run on this machine (Databricks); each checks exact requests."""
