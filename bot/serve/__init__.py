"""``liqbot serve``: the cluster API, the bot's read-only API, a live stream and the dashboard (``bot.serve.app``)."""
