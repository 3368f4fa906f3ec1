"""Byte streams under the peer wire: the MSE/PE handshake and RC4 (mse) and its asyncio adapter."""
