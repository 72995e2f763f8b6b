// A free TCP port on loopback, for servers that tests start themselves: the bench's own.
export { freePort } from "../../bench/lib/free-port.ts";
