"""Port mapping: asking the router to open our listen ports (UPnP IGD, PCP, NAT-PMP)."""
