"""The /reorder page: what to order, by supplier."""
