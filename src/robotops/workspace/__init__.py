"""A team's workspace: robotops init."""
