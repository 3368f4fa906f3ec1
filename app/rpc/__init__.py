"""Remote control: a Transmission-RPC server over the engine's Session (and, later, a client).

request (parse and check a request, pure) -> methods (the method table over the Session)
-> fields (torrent-get's values from snapshots); server (HTTP and its guards) carries it.
"""
