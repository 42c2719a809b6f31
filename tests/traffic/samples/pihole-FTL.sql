-- A Pi-hole FTL long-term database, the part policy-lint reads (FTL v5 schema: queries table).
CREATE TABLE queries (id INTEGER PRIMARY KEY AUTOINCREMENT, timestamp INTEGER NOT NULL, type INTEGER NOT NULL, status INTEGER NOT NULL, domain TEXT NOT NULL, client TEXT NOT NULL, forward TEXT, additional_info TEXT);
INSERT INTO queries (timestamp, type, status, domain, client, forward) VALUES
 (1655738951, 1, 1, 'www.facebook.com', '10.20.0.5', NULL),
 (1655739002, 1, 2, 'www.linkedin.com', '10.10.0.7', '9.9.9.9#53'),
 (1655739003, 1, 3, 'www.linkedin.com', '10.10.0.7', NULL),
 (1655739004, 1, 4, 'static.xx.fbcdn.net', '10.20.0.5', NULL),
 (1655739005, 1, 0, 'twitter.com', '10.10.0.7', NULL),
 (1655739006, 1, 2, 'www.example.org', '10.10.0.7', '9.9.9.9#53');
