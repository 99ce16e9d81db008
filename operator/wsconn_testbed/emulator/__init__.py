"""An HTTPS emulator of Azure Resource Manager (workspace connections) and Microsoft Entra ID.

It follows the pinned ARM contract (`wsconn.arm.contract`, read as data only) and the ARM RPC behaviour
described in CONNECTIONS.md: the operator under test talks to it with its ordinary configuration and the
real azure-identity library. Nothing in here imports the operator's code, so the emulator is an independent
reading of the contract, not a mirror of the operator's.
"""
