-- AlterTable: what a task does with a source video (edits and extensions)
ALTER TABLE "tasks" ADD COLUMN     "operation" TEXT NOT NULL DEFAULT 'create',
ADD COLUMN     "source_video_id" TEXT,
ADD COLUMN     "source_video_ref" TEXT,
ADD COLUMN     "source_seconds" DOUBLE PRECISION,
ADD COLUMN     "character_ids" TEXT[] DEFAULT ARRAY[]::TEXT[];

-- CreateTable
CREATE TABLE "characters" (
    "id" TEXT NOT NULL,
    "api_key_id" TEXT NOT NULL,
    "name" TEXT NOT NULL,
    "video_ref" TEXT NOT NULL,
    "created_at" TIMESTAMP(3) NOT NULL DEFAULT CURRENT_TIMESTAMP,

    CONSTRAINT "characters_pkey" PRIMARY KEY ("id")
);

-- CreateIndex
CREATE INDEX "characters_api_key_id_created_at_idx" ON "characters"("api_key_id", "created_at");

-- AddForeignKey
ALTER TABLE "characters" ADD CONSTRAINT "characters_api_key_id_fkey" FOREIGN KEY ("api_key_id") REFERENCES "api_keys"("id") ON DELETE RESTRICT ON UPDATE CASCADE;
