// A free TCP port on loopback for a server a test starts, and may restart on the same port: the
// launcher's own pick, below the kernel's ephemeral range, so that no outgoing connection or
// listen(0) of another process can take it between the check and a (re)bind. A port from inside
// that range once went to someone else while a test restarted nats-server on it.
export { listenPort } from "@paxos/host";
