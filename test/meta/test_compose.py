"""tools/docker-compose.yml against the compose specification's JSON schema
(the copy the dclint npm package ships; tools/deps fetches it, pinned, into
test/meta/node_modules): the file is valid, every long-running service has
a health check, every service waited for as healthy has one, coturn is
there, and welcomedlyd shares coturn's secret. `docker compose config` is
not available here; the schema is what it checks too.
"""

import os
import unittest

import jsonschema
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("WELCOMEDLY_SOURCE", os.path.join(HERE, "..", ".."))
SCHEMA = os.path.join(HERE, "node_modules", "dclint", "schemas", "compose.schema.json")
COMPOSE = os.path.join(SOURCE, "tools", "docker-compose.yml")
ONE_SHOT = {"migrate"}  # run to completion; waited for as completed


class ComposeTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not os.path.isfile(SCHEMA):
            raise AssertionError(f"{SCHEMA} is missing: run tools/deps")
        import json
        with open(SCHEMA) as f:
            cls.schema = json.load(f)
        with open(COMPOSE) as f:
            cls.compose = yaml.safe_load(f)
        cls.services = cls.compose["services"]

    def test_schema_is_the_compose_specification(self):
        self.assertEqual(self.schema.get("title"), "Compose Specification")
        jsonschema.Draft7Validator.check_schema(self.schema)

    def test_valid_against_the_schema(self):
        validator = jsonschema.Draft7Validator(
            self.schema, format_checker=jsonschema.Draft7Validator.FORMAT_CHECKER)
        errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
                  for e in validator.iter_errors(self.compose)]
        self.assertEqual(errors, [])

    def test_schema_catches_mistakes(self):
        validator = jsonschema.Draft7Validator(self.schema)
        broken = dict(self.compose, services=dict(self.services, coturn=dict(
            self.services["coturn"], healthcheck={"test": ["CMD", "true"], "interval": 5})))
        self.assertFalse(validator.is_valid(broken))
        self.assertFalse(validator.is_valid(dict(self.compose, servces={})))

    def test_health_checks(self):
        for name, svc in self.services.items():
            if name not in ONE_SHOT:
                self.assertIn("healthcheck", svc, name)
            for dep, how in (svc.get("depends_on") or {}).items():
                want = ("service_completed_successfully" if dep in ONE_SHOT
                        else "service_healthy")
                self.assertEqual(how["condition"], want, f"{name} -> {dep}")

    def test_coturn_shares_its_secret_with_welcomedlyd(self):
        coturn = self.services["coturn"]
        secret = [a.split("=", 1)[1] for a in coturn["command"]
                  if a.startswith("--static-auth-secret=")]
        self.assertEqual(len(secret), 1)
        env = self.services["welcomedlyd"]["environment"]
        self.assertEqual(env["TURN_SECRET"], secret[0])
        self.assertIn("coturn", self.services["welcomedlyd"]["depends_on"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
