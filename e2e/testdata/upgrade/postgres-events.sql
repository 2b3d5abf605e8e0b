--
-- PostgreSQL database dump
--


-- Dumped from database version 15.20 (Debian 15.20-0+deb12u1)
-- Dumped by pg_dump version 15.20 (Debian 15.20-0+deb12u1)

SET statement_timeout = 0;
SET lock_timeout = 0;
SET idle_in_transaction_session_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET check_function_bodies = false;
SET xmloption = content;
SET client_min_messages = warning;
SET row_security = off;

SET default_tablespace = '';

SET default_table_access_method = heap;

--
-- Name: event_store_head; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.event_store_head (
    id bigint NOT NULL,
    "position" bigint NOT NULL
);


--
-- Name: events; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.events (
    "position" bigint NOT NULL,
    event_id uuid NOT NULL,
    stream_id uuid NOT NULL,
    version bigint NOT NULL,
    type character varying(128) NOT NULL,
    data jsonb NOT NULL,
    metadata jsonb NOT NULL,
    recorded_at timestamp with time zone NOT NULL
);


--
-- Data for Name: event_store_head; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.event_store_head VALUES (1, 6);


--
-- Data for Name: events; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.events VALUES (1, '09a51cae-7fd0-4368-995e-4b8c8f442e29', '729faa76-1d30-4e72-8dc8-b5eaea3fdc38', 1, 'invoice.created', '{"amount": 19.99, "createdAt": "2026-12-02T01:03:08.634756Z", "invoiceId": "729faa76-1d30-4e72-8dc8-b5eaea3fdc38", "customerId": "cus_a"}', '{"causationId": "CreateInvoice", "correlationId": "1de97047-da65-414c-9104-ae7315e9fe52"}', '2026-12-02 01:03:08.635053+00');
INSERT INTO public.events VALUES (2, 'd334d723-2e45-4504-a9ae-f0d320c7b6d5', '83ed8b86-7baf-40a4-bcec-48c28f630865', 1, 'invoice.created', '{"amount": 20.00, "createdAt": "2026-12-02T01:03:08.681542Z", "invoiceId": "83ed8b86-7baf-40a4-bcec-48c28f630865", "customerId": "cus_b"}', '{"causationId": "CreateInvoice", "correlationId": "127a37e1-c551-4bd8-8c0d-0cb08e5fb160"}', '2026-12-02 01:03:08.681629+00');
INSERT INTO public.events VALUES (3, '1c0b51fa-bda1-4b28-877f-a5e7ef4016a9', 'bc1f1853-6926-4ad0-b622-4066a8f7f428', 1, 'invoice.created', '{"amount": 0.01, "createdAt": "2026-12-02T01:03:08.717921Z", "invoiceId": "bc1f1853-6926-4ad0-b622-4066a8f7f428", "customerId": "cus_a"}', '{"causationId": "CreateInvoice", "correlationId": "665f4dbd-8344-404f-8563-f5e9f67f03f1"}', '2026-12-02 01:03:08.717976+00');
INSERT INTO public.events VALUES (4, '4915fe0f-fe38-4020-996f-a2e0e4bee5a1', 'b8b136b8-7911-454a-8083-d6c1580e4975', 1, 'invoice.created', '{"amount": 999999999999.99, "createdAt": "2026-12-02T01:03:08.759348Z", "invoiceId": "b8b136b8-7911-454a-8083-d6c1580e4975", "customerId": "cus_c"}', '{"causationId": "CreateInvoice", "correlationId": "ecf6e6e0-ba30-418f-93dc-5a381ad12673"}', '2026-12-02 01:03:08.759402+00');
INSERT INTO public.events VALUES (5, '802a4f8b-9397-4b9c-9056-a98d66f760b8', '729faa76-1d30-4e72-8dc8-b5eaea3fdc38', 2, 'invoice.paid', '{"paidAt": "2026-12-02T01:03:08.795093Z", "invoiceId": "729faa76-1d30-4e72-8dc8-b5eaea3fdc38"}', '{"causationId": "PayInvoice", "correlationId": "be8dd4da-8f77-4a30-acf4-dbd15fd88e48"}', '2026-12-02 01:03:08.795138+00');
INSERT INTO public.events VALUES (6, '737894e2-2091-42e6-a1b1-81710a8c9290', 'b8b136b8-7911-454a-8083-d6c1580e4975', 2, 'invoice.paid', '{"paidAt": "2026-12-02T01:03:08.821482Z", "invoiceId": "b8b136b8-7911-454a-8083-d6c1580e4975"}', '{"causationId": "PayInvoice", "correlationId": "1ab92172-8fe5-46f0-ba38-e39b65e05a0f"}', '2026-12-02 01:03:08.82151+00');


--
-- Name: event_store_head event_store_head_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.event_store_head
    ADD CONSTRAINT event_store_head_pkey PRIMARY KEY (id);


--
-- Name: events events_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.events
    ADD CONSTRAINT events_pkey PRIMARY KEY ("position");


--
-- Name: events_event_id; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX events_event_id ON public.events USING btree (event_id);


--
-- Name: events_stream_version; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX events_stream_version ON public.events USING btree (stream_id, version);


--
-- PostgreSQL database dump complete
--


