"""
smtpeter: an authenticated SMTP submission gateway on Twisted.

The path of a message, in the order it takes:
  - C{smtp}: the submission server (sessions, AUTH, STARTTLS, replies) and
    the MX listener for bounces;
  - C{queue}: the durable spool each node keeps, and (C{queue.manager})
    the queue manager that works on it: when each message is tried, and
    the pure settlement of what happened to each recipient;
  - C{features}: the feature chain (plugins) that rewrites a message on its
    way out;
  - C{delivery}: the delivery of one copy: routing, the SMTP client, DSNs;
  - C{events}: what happened to each recipient, and webhooks that carry it.
Beside it:
  - C{message}: the values and bytes of a message (envelope, header fields,
    MIME, transfer encodings), which every stage of the path reads;
  - C{store}: the shared database (logins, domains, events, suppressions);
  - C{admin}: the operations behind the C{smtpeter} command, the REST API
    and the dashboard, and (C{admin.commands}) that command's commands, a
    module per group; C{web} and C{dashboard}: the HTTP faces;
  - C{process}: one node's processes and wiring (the gateway service, the
    supervisor and its workers, shared ports, the data directory, health);
  - C{runtime}: what every layer may use and which imports nothing above it
    (reactor, threads, write-through, TLS, random ids, disk errors).
Entry points at the top: C{tap} (C{twistd smtpeter}), C{config}, C{cli}
(the C{smtpeter} command), C{logging}, C{testing}, and C{csvfile}, the one
CSV writer.
"""

__version__ = "0.1.0"
