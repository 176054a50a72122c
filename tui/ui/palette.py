"""Command palette (ctrl+p): the same commands as the ``:`` line, from the same table."""

from __future__ import annotations

from functools import partial

from textual.command import DiscoveryHit, Hit, Hits, Provider

from ..core.commands import COMMAND_SPECS, CommandSpec


class CsRebindCommands(Provider):
    def _run(self, spec: CommandSpec) -> None:
        screen = self.app.main_screen
        if spec.min_args == 0:
            screen.run_command(spec.name)
        else:
            screen.action_command_line(spec.name + " ")

    async def discover(self) -> Hits:
        for spec in COMMAND_SPECS:
            yield DiscoveryHit(spec.usage, partial(self._run, spec), help=spec.help)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for spec in COMMAND_SPECS:
            score = matcher.match(f"{spec.name} {spec.help}")
            if score > 0:
                yield Hit(score, matcher.highlight(spec.usage), partial(self._run, spec), help=spec.help)
