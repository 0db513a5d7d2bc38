"""What every provider client shares: the API key header, timeouts, bounded retries, counters."""

from __future__ import annotations

import time
from typing import Callable, Mapping
from urllib.parse import urlencode

from pydantic import SecretStr

from bot.errors import ConfigError
from bot.httpclient import get_with_retry, http_post_json
from bot.retry import RetryPolicy, call_with_retry


class ProviderClient:
    """GETs against one provider with its key in a header; the key never enters a message or a log."""

    provider = "provider"
    key_header = ""
    key_setting = ""
    key_required = True  # a public endpoint sends the key only when one is set

    def __init__(self, base_url: str, api_key: SecretStr | None, *, timeout_s: float = 10.0,
                 policy: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep) -> None:
        if self.key_required and (api_key is None or not api_key.get_secret_value()):
            env = "LIQBOT_" + self.key_setting.upper().replace(".", "__")
            raise ConfigError(f"config: {self.key_setting}: no {self.provider} API key set (set {env} or .env)")
        self.base_url = base_url.rstrip("/")
        self._key = api_key
        self.timeout_s = timeout_s
        self.policy = policy
        self.sleep = sleep
        self.requests = 0
        self.retries = 0

    def get(self, path: str, params: Mapping[str, object], what: str) -> bytes:
        """GET ``base_url + path`` with ``params``; retried under the policy; body bytes."""
        url = f"{self.base_url}{path}?{urlencode({k: v for k, v in params.items() if v is not None})}"

        def count(n: int, wait: float, exc: BaseException) -> None:
            self.retries += 1

        self.requests += 1
        return get_with_retry(url, headers=self._headers(), timeout_s=self.timeout_s, policy=self.policy,
                              what=f"{self.provider} {what}", sleep=self.sleep, on_retry=count)

    def post(self, path: str, payload: object, what: str) -> bytes:
        """POST ``payload`` as JSON to ``base_url + path`` (an idempotent info read), retried under the policy."""
        def count(n: int, wait: float, exc: BaseException) -> None:
            self.retries += 1

        self.requests += 1
        url = f"{self.base_url}{path}"
        return call_with_retry(lambda: http_post_json(url, payload, headers=self._headers(), timeout_s=self.timeout_s,
                                                      what=f"{self.provider} {what}"),
                               self.policy, what=f"{self.provider} {what}", sleep=self.sleep, on_retry=count)

    def _headers(self) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if self.key_header and self._key is not None and self._key.get_secret_value():
            headers[self.key_header] = self._key.get_secret_value()
        return headers
