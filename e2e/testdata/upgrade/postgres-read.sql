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
-- Name: invoices; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.invoices (
    id uuid NOT NULL,
    seq bigint NOT NULL,
    customer_id character varying(255) NOT NULL,
    amount numeric(14,2) NOT NULL,
    status character varying(16) NOT NULL,
    version bigint NOT NULL,
    created_at timestamp with time zone NOT NULL,
    updated_at timestamp with time zone NOT NULL,
    paid_at timestamp with time zone
);


--
-- Name: projection_checkpoints; Type: TABLE; Schema: public; Owner: -
--

CREATE TABLE public.projection_checkpoints (
    name character varying(128) NOT NULL,
    "position" bigint NOT NULL,
    updated_at timestamp with time zone NOT NULL
);


--
-- Data for Name: invoices; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.invoices VALUES ('83ed8b86-7baf-40a4-bcec-48c28f630865', 2, 'cus_b', 20.00, 'pending', 1, '2026-12-02 01:03:08.681542+00', '2026-12-02 01:03:08.681542+00', NULL);
INSERT INTO public.invoices VALUES ('bc1f1853-6926-4ad0-b622-4066a8f7f428', 3, 'cus_a', 0.01, 'pending', 1, '2026-12-02 01:03:08.717921+00', '2026-12-02 01:03:08.717921+00', NULL);
INSERT INTO public.invoices VALUES ('729faa76-1d30-4e72-8dc8-b5eaea3fdc38', 1, 'cus_a', 19.99, 'paid', 2, '2026-12-02 01:03:08.634756+00', '2026-12-02 01:03:08.795093+00', '2026-12-02 01:03:08.795093+00');
INSERT INTO public.invoices VALUES ('b8b136b8-7911-454a-8083-d6c1580e4975', 4, 'cus_c', 999999999999.99, 'paid', 2, '2026-12-02 01:03:08.759348+00', '2026-12-02 01:03:08.821482+00', '2026-12-02 01:03:08.821482+00');


--
-- Data for Name: projection_checkpoints; Type: TABLE DATA; Schema: public; Owner: -
--

INSERT INTO public.projection_checkpoints VALUES ('invoices', 6, '2026-12-02 01:03:08.832039+00');


--
-- Name: invoices invoices_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.invoices
    ADD CONSTRAINT invoices_pkey PRIMARY KEY (id);


--
-- Name: projection_checkpoints projection_checkpoints_pkey; Type: CONSTRAINT; Schema: public; Owner: -
--

ALTER TABLE ONLY public.projection_checkpoints
    ADD CONSTRAINT projection_checkpoints_pkey PRIMARY KEY (name);


--
-- Name: invoices_seq; Type: INDEX; Schema: public; Owner: -
--

CREATE UNIQUE INDEX invoices_seq ON public.invoices USING btree (seq);


--
-- PostgreSQL database dump complete
--


