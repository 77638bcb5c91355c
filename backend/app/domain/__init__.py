"""Domain rules of the agents' records and the typed write API that enforces them."""
