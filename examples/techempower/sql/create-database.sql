-- TechEmpower's database and its user, as their PostgreSQL image makes them. Run as a
-- superuser, connected to the `postgres` database.
CREATE ROLE benchmarkdbuser WITH LOGIN PASSWORD 'benchmarkdbpass';
CREATE DATABASE hello_world WITH OWNER benchmarkdbuser ENCODING 'UTF8' TEMPLATE template0;
