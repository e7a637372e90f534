"""The tblog writer core. Imports numpy and protobuf only; never an ML framework."""
