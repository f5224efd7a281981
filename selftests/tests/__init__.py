"""Test modules: each registers its tests with lib.harness.test."""
