// Module Transport
