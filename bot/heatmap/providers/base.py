"""What every provider client shares: the API key header, timeouts, bounded retries, counters."""

from __future__ import annotations

import time
from typing import Callable, Mapping
from urllib.parse import urlencode

from pydantic import SecretStr

from bot.errors import ConfigError
from bot.httpclient import get_with_retry
from bot.retry import RetryPolicy


class ProviderClient:
    """GETs against one provider with its key in a header; the key never enters a message or a log."""

    provider = "provider"
    key_header = ""
    key_setting = ""

    def __init__(self, base_url: str, api_key: SecretStr | None, *, timeout_s: float = 10.0,
                 policy: RetryPolicy = RetryPolicy(), sleep: Callable[[float], None] = time.sleep) -> None:
        if api_key is None or not api_key.get_secret_value():
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
        return get_with_retry(url, headers={self.key_header: self._key.get_secret_value(),
                                            "Accept": "application/json"},
                              timeout_s=self.timeout_s, policy=self.policy, what=f"{self.provider} {what}",
                              sleep=self.sleep, on_retry=count)
